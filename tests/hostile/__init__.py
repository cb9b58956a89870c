"""Hostile clients against real ``bench serve`` processes: slow readers, unread pipelines,
disconnect churn, deep pipelines, stalled bodies; bounded in time and in server memory."""
