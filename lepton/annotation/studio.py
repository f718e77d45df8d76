"""The one door to Label Studio: project setup, task pushes and annotation pulls through
label-studio-sdk 2.x, each call retried with exponential backoff while the server is
unreachable or answers 5xx/429, and every final error naming the task and HTTP status."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from lepton.annotation.schema import LabelSchema

log = logging.getLogger(__name__)

SEQUENTIAL = "Sequential sampling"
UNCERTAINTY = "Uncertainty sampling"  # Label Studio serves the lowest prediction score first
IMPORT_CHUNK = 500
SELECT_CHUNK = 500
REIMPORTS = 3  # times a push imports again the tasks Label Studio stored without their annotations


class StudioError(RuntimeError):
    """A Label Studio call that failed for good (after retries, or a 4xx)."""


def _status(exc: BaseException) -> int | None:
    return getattr(exc, "status_code", None)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    status = _status(exc)
    return status is not None and (status >= 500 or status == 429)


def _describe(exc: BaseException) -> str:
    status = _status(exc)
    if status is not None:
        return f"HTTP {status}"
    return f"unreachable ({type(exc).__name__})"


def _detail(body) -> str:
    """What went wrong, without the values: Label Studio's validation errors can quote the
    task data they refused, which may hold personal data."""
    if not isinstance(body, dict):
        return ""
    fields = sorted((body.get("validation_errors") or {}).keys()) if isinstance(body.get("validation_errors"), dict) else []
    detail = str(body.get("detail") or "")[:120]
    return f": {detail}" + (f" (fields: {', '.join(fields)})" if fields else "") if detail or fields else ""


@dataclass
class Project:
    id: int
    title: str
    schema_version: str
    created: bool
    config_changed: bool


class Studio:
    def __init__(self, url: str, api_key: str, retry_seconds: float = 120.0, timeout: float = 60.0,
                 on_retry: Callable[[str], None] | None = None):
        from label_studio_sdk import LabelStudio

        self.url = url.rstrip("/")
        self.client = LabelStudio(base_url=self.url, api_key=api_key, timeout=timeout)
        self.retry_seconds = retry_seconds
        self.on_retry = on_retry

    def call(self, what: str, fn: Callable, *args, **kwargs):
        """`fn(*args, **kwargs)` with backoff on transient failures; `what` names the task or
        object, so the error a person reads says which one failed and how."""
        def note(state):
            msg = f"Label Studio {what}: {_describe(state.outcome.exception())}; retry {state.attempt_number}"
            log.warning(msg)
            if self.on_retry:
                self.on_retry(msg)

        retrying = Retrying(retry=retry_if_exception(_transient), stop=stop_after_delay(self.retry_seconds),
                            wait=wait_exponential(multiplier=0.5, max=8), before_sleep=note, reraise=True)
        try:
            return retrying(fn, *args, **kwargs)
        except Exception as exc:
            if _transient(exc) or _status(exc) is not None:
                raise StudioError(f"Label Studio {what} failed at {self.url}: {_describe(exc)}"
                                  f"{_detail(getattr(exc, 'body', None))}") from None
            raise

    # --- project ------------------------------------------------------------------------

    def find_project(self, title: str) -> int | None:
        found = [p.id for p in self.call("list projects", lambda: list(self.client.projects.list())) if p.title == title]
        return found[0] if found else None

    def ensure_project(self, title: str, schema: LabelSchema) -> Project:
        """Creates the project, or brings its labeling config up to the label schema: running
        it twice changes nothing. Existing annotations stay: a renamed or removed label stays
        in the config as a retired one, since Label Studio refuses a config that orphans them."""
        config = schema.label_config()
        found = self.find_project(title)
        if found is None:
            p = self.call(f"create project {title!r}", self.client.projects.create, title=title,
                          label_config=config, sampling=SEQUENTIAL,
                          description="Entity spans for Lepton's NER model. Managed by the pipeline: "
                                      f"the labels come from the reviewed schema file {Path(schema.source).name}.")
            return Project(p.id, title, schema.version, created=True, config_changed=False)
        p = self.call(f"read project {found}", self.client.projects.get, found)
        changed = (p.label_config or "").strip() != config
        if changed:
            self.call(f"update label config of project {p.id}", self.client.projects.update, p.id,
                      label_config=config)
        return Project(p.id, title, schema.version, created=False, config_changed=changed)

    def label_config(self, project: int) -> str:
        return self.call(f"read project {project}", self.client.projects.get, project).label_config

    def set_sampling(self, project: int, model_version: str | None) -> None:
        """Uncertainty-first when there are model predictions to rank by, in push order otherwise."""
        settings = {"sampling": UNCERTAINTY, "model_version": model_version} if model_version else \
            {"sampling": SEQUENTIAL}
        self.call(f"set sampling of project {project}", self.client.projects.update, project, **settings)

    # --- tasks --------------------------------------------------------------------------

    def tasks(self, project: int, ids: list[int] | None = None) -> list[dict]:
        """Tasks with their annotations and predictions, as plain JSON: every task of the
        project, or only `ids` (a Data Manager selection, in chunks)."""
        def fetch(query=None):
            return [t.model_dump(mode="json") for t in self.client.tasks.list(
                project=project, fields="all", page_size=1000, **({"query": query} if query else {}))]
        if ids is None:
            return self.call(f"list tasks of project {project}", fetch)
        out = []
        for i in range(0, len(ids), SELECT_CHUNK):
            chunk = ids[i:i + SELECT_CHUNK]
            query = json.dumps({"selectedItems": {"all": False, "included": chunk}})
            out += self.call(f"read tasks {chunk[0]}..{chunk[-1]} of project {project}", fetch, query)
        return out

    def task_index(self, project: int) -> dict[int, list[dict]]:
        """Task id -> its annotations' ids and update times only: about a third of the cost
        of the full listing, and enough to tell which tasks changed."""
        def fetch():
            return {t.id: [dict(a) for a in (t.annotations or [])] for t in self.client.tasks.list(
                project=project, fields="all", include="id,annotations,updated_at", page_size=1000)}
        return self.call(f"index tasks of project {project}", fetch)

    def push(self, project: int, tasks: list[dict], key: str = "record_id",
             progress: Callable[[str], None] | None = None) -> dict:
        """Imports the tasks whose `data[key]` is not in the project yet, then reads back what
        the server stored: a task it imported that is short of the annotations or predictions
        it was sent with is deleted and imported again. Label Studio on SQLite numbers
        imported rows from ids it reads before taking its write lock, so an import into
        another project at the same moment can leave a chunk's tasks stored bare, answered
        with a 201. Retried as a whole, re-reading what is there each time, so a response lost
        after the server stored a chunk cannot make duplicates. Tasks that were there before
        this push are left as they are (a person may have deleted an annotation on purpose)."""
        mine: set = set()
        reimported = 0

        def stored() -> dict:
            return {t.data.get(key): t for t in self.client.tasks.list(
                project=project, fields="all", include="id,data,annotations,predictions", page_size=1000)}

        def attempt():
            nonlocal reimported
            present = stored()
            todo = [t for t in tasks if t["data"][key] not in present]
            for _ in range(REIMPORTS + 1):
                for i in range(0, len(todo), IMPORT_CHUNK):
                    chunk = todo[i:i + IMPORT_CHUNK]
                    mine.update(t["data"][key] for t in chunk)
                    self.client.projects.import_tasks(project, request=chunk, return_task_ids=False)
                    if progress:
                        progress(f"pushed {i + len(chunk)}/{len(todo)} tasks to project {project}")
                now = stored() if mine else present
                todo = [t for t in tasks if t["data"][key] in mine and _short(now[t["data"][key]], t)]
                if not todo:
                    return {"pushed": len(mine), "already_present": len(tasks) - len(mine), "reimported": reimported}
                log.warning(f"Label Studio stored {len(todo)} tasks of project {project} without their "
                            "annotations or predictions; importing them again")
                self.client.actions.create(id="delete_tasks", project=project, selected_items={
                    "all": False, "included": [now[t["data"][key]].id for t in todo]})
                reimported += len(todo)
            raise StudioError(f"Label Studio push to project {project} failed at {self.url}: {len(todo)} tasks were "
                              f"stored without their annotations or predictions {REIMPORTS + 1} times")
        return self.call(f"push {len(tasks)} tasks to project {project}", attempt)

    def refresh_predictions(self, project: int, tasks: list[dict], model_version: str,
                            key: str = "record_id") -> int:
        """Tasks already in the project that nobody has annotated and that hold no prediction
        of `model_version` get the predictions `tasks` carries for them in place of the ones
        they had (a stale champion's guesses would otherwise order the uncertainty queue,
        which reads the first prediction it meets); annotated tasks are left as they are.
        Both steps are bulk calls (a Data Manager action, a predictions import), in chunks.
        Each attempt re-reads what is there, so a retry after a half-done refresh finishes it
        and never adds a prediction twice. Returns how many tasks were refreshed. The earlier
        pre-annotations stay in lineage as their prediction batches."""
        sent = {t["data"][key]: t for t in tasks}

        def attempt() -> int:
            stale = []
            for stored in self.client.tasks.list(project=project, fields="all",
                                                 include="id,data,annotations,predictions", page_size=1000):
                task = sent.get(stored.data.get(key))
                if task is None or stored.annotations:
                    continue
                if not any(_model_version(p) == model_version for p in stored.predictions or []):
                    stale.append((stored.id, task))
            for i in range(0, len(stale), IMPORT_CHUNK):
                chunk = [tid for tid, _ in stale[i:i + IMPORT_CHUNK]]
                self.client.actions.create(id="delete_tasks_predictions", project=project,
                                           selected_items={"all": False, "included": chunk})
            preds = [{"task": tid, "result": p["result"], "model_version": p["model_version"],
                      **({"score": p["score"]} if p.get("score") is not None else {})}
                     for tid, task in stale for p in task["predictions"]]
            for i in range(0, len(preds), IMPORT_CHUNK):
                self.client.projects.import_predictions(project, request=preds[i:i + IMPORT_CHUNK])
            return len(stale)
        return self.call(f"refresh pre-annotations of project {project} to {model_version}", attempt)

    def tasks_of_records(self, project: int, record_ids: frozenset[str], key: str = "record_id") -> list[int]:
        def fetch():
            return [t.id for t in self.client.tasks.list(project=project, fields="all", include="id,data",
                                                         page_size=1000) if t.data.get(key) in record_ids]
        return self.call(f"find tasks of {len(record_ids)} records in project {project}", fetch)

    def delete_task(self, task: int) -> None:
        """With its annotations and predictions (Label Studio deletes them with the task)."""
        self.call(f"delete task {task}", self.client.tasks.delete, task)

    def annotate(self, task: int, result: list[dict], ground_truth: bool = False) -> int:
        a = self.call(f"annotate task {task}", self.client.annotations.create, task, result=result,
                      ground_truth=ground_truth)
        return a.id

    def update_annotation(self, annotation: int, result: list[dict], task: int | None = None) -> None:
        self.call(f"update annotation {annotation} of task {task}", self.client.annotations.update, annotation,
                  result=result)

    def delete_annotation(self, annotation: int, task: int | None = None) -> None:
        self.call(f"delete annotation {annotation} of task {task}", self.client.annotations.delete, annotation)

    def next_task(self, project: int) -> dict | None:
        """The task Label Studio's label stream gives the calling user next (what an
        annotator pressing "Label All Tasks" sees)."""
        def fetch():
            r = self.client._client_wrapper.httpx_client.request(f"api/projects/{project}/next", method="GET")
            if r.status_code == 404:
                return None
            if r.status_code >= 400:
                raise _http_error(r)
            return r.json()
        return self.call(f"next task of project {project}", fetch)


def _model_version(prediction) -> str | None:
    return prediction.get("model_version") if isinstance(prediction, dict) else getattr(prediction, "model_version", None)


def _short(stored, sent: dict) -> bool:
    """The stored task holds fewer annotations or predictions than it was sent with."""
    return (len(stored.annotations or []) < len(sent.get("annotations") or [])
            or len(stored.predictions or []) < len(sent.get("predictions") or []))


def _http_error(r) -> Exception:
    from label_studio_sdk.core.api_error import ApiError

    return ApiError(status_code=r.status_code, body=r.text[:200])

