"""Open311 GeoReport v2 without HTTP: the integrators' API keys (``keys``), the spec's
documents built from an agency's file (``documents``), its parameters read and checked
(``params``) and its errors (``errors``). The blueprint is widget/web/open311.py."""
