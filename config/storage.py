"""The production storage of static files, its URLs remembered.

Every page names the same dozen files (``{% static %}``), and each name
went through the manifest and ``urljoin`` on every render. The hashed
names are fixed once the manifest is loaded (``collectstatic`` runs before
the server starts), so each name's URL is worked out once per process.
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name, force=False) -> str:
        if force:
            return super().url(name, force)
        url = self._urls.get(name)
        if url is None:
            # A missing file raises here, every time: only found names are kept.
            url = self._urls[name] = super().url(name)
        return url
