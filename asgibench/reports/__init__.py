"""Reports, charts and comparisons of ``bench run`` results files.

* :mod:`~asgibench.reports.load` -- read one or more results files, label each run;
* :mod:`~asgibench.reports.model` -- the format-neutral report (rankings, composite,
  loop x parser matrices, environment and flags);
* :mod:`~asgibench.reports.markdown`, :mod:`~asgibench.reports.html`,
  :mod:`~asgibench.reports.jsonout` -- its renderers (``bench report``);
* :mod:`~asgibench.reports.charts` -- matplotlib charts (``bench chart``);
* :mod:`~asgibench.reports.compare` and :mod:`~asgibench.reports.stats` -- matched
  entries, bootstrap intervals, verdicts and the CI exit status (``bench compare``);
* :mod:`~asgibench.reports.merge` -- several runs of one configuration as one;
* :mod:`~asgibench.reports.costchart` and :mod:`~asgibench.reports.resources` -- the
  chart of a ``bench cost`` file, the terminal tables of ``bench cost`` and
  ``bench memory``.

The commands themselves are in :mod:`asgibench.cli.reports`.

Documented in ``docs/reports.md`` and ``docs/ci.md``.
"""
