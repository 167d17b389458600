from __future__ import annotations

from celery import shared_task

from home import export


@shared_task(ignore_result=True)
def build_data_export(export_id: int, token: str) -> str:
    """Build one person's data export (``home.export.build``)."""
    return export.build(export_id, token)


@shared_task(ignore_result=True)
def sweep_data_exports() -> int:
    """Beat, every minute: queue the builds owed and not on their way, and
    delete the exports past their week."""
    owed = export.owed_builds()
    for export_id, token in owed:
        build_data_export.delay(export_id, token)
    export.delete_expired()
    return len(owed)
