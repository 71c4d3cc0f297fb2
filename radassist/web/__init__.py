"""The radiologist's web form and JSON API (``radassist serve``)."""
