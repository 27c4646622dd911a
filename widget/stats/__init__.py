"""Statistics: the figures behind the rating (issue 20).

- ``report``: what a page, an export and ``flask stats`` show (``Report``, ``Cell``…).
"""
