"""``python -m asgibench.reports report|chart|compare ...`` (the same as ``bench ...``)."""

from asgibench.reports.cli import main

main()
