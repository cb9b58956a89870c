"""Reports, charts and comparisons of ``bench run`` results files.

* :mod:`~asgibench.reports.load` -- read one or more results files, label each run;
* :mod:`~asgibench.reports.model` -- the format-neutral report (rankings, composite,
  loop x parser matrices, environment and flags);
* :mod:`~asgibench.reports.markdown`, :mod:`~asgibench.reports.html`,
  :mod:`~asgibench.reports.jsonout` -- its renderers (``bench report``);
* :mod:`~asgibench.reports.charts` -- matplotlib charts (``bench chart``);
* :mod:`~asgibench.reports.compare` and :mod:`~asgibench.reports.stats` -- matched
  entries, bootstrap intervals, verdicts and the CI exit status (``bench compare``);
* :mod:`~asgibench.reports.cli` -- the three click commands.

Documented in ``docs/reports.md`` and ``docs/ci.md``.
"""
