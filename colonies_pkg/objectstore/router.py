"""`StoreRouter` and `store_from_env`: which object store serves a reference (layer L1).

Puts go to one primary store; gets, exists and deletes go to the store the reference names
("s3" endpoint and bucket, "colonies" server colony, or the primary's own "local" directory).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ..models.file import Reference
from . import ObjectStore, Progress, Stored, UnsupportedReference
from .http import HttpObjectStore
from .local import LocalDirStore
from .s3 import S3Config, S3Store


class StoreRouter:
    """Puts go to `primary`; gets/deletes go to the store a reference names.

    "s3" references are served with the endpoint and bucket they name plus AWS_S3_ACCESSKEY /
    AWS_S3_SECRETKEY from `env`; "colonies" references by the configured Colonies server
    (`colonies_store`); "local" ones only by the primary (metadata never picks local paths).
    """

    def __init__(self, primary: ObjectStore, env: Mapping[str, str] | None = None,
                 colonies_store: Callable[[str], HttpObjectStore] | None = None) -> None:
        self.primary = primary
        self.env = dict(os.environ if env is None else env)
        self._colonies_store = colonies_store
        self._cache: dict[tuple[Any, ...], ObjectStore] = {}

    @property
    def description(self) -> str:
        return describe(self.primary)

    def store_for(self, ref: Reference) -> ObjectStore:
        if self.primary.owns(ref):
            return self.primary
        if ref.protocol == "s3":
            cfg = S3Config.for_ref(ref, self.env)
            key: tuple[Any, ...] = ("s3", cfg.host, cfg.port, cfg.bucket)
            if key not in self._cache:
                self._cache[key] = S3Store(cfg)
            return self._cache[key]
        if ref.protocol == "colonies" and self._colonies_store is not None:
            key = ("colonies", ref.s3object.bucket)
            if key not in self._cache:
                self._cache[key] = self._colonies_store(ref.s3object.bucket)
            return self._cache[key]
        raise UnsupportedReference(f"no object store configured for {ref.protocol!r} references "
                                   f"(bucket {ref.s3object.bucket!r})")

    def owns(self, ref: Reference) -> bool:
        try:
            self.store_for(ref)
            return True
        except UnsupportedReference:
            return False

    def put_file(self, path: str, progress: Progress | None = None) -> Stored:
        return self.primary.put_file(path, progress)

    def get_file(self, ref: Reference, dest: str, sha256: str | None = None,
                 progress: Progress | None = None) -> str:
        return self.store_for(ref).get_file(ref, dest, sha256, progress)

    def exists(self, ref: Reference) -> bool:
        return self.store_for(ref).exists(ref)

    def delete(self, ref: Reference) -> None:
        self.store_for(ref).delete(ref)


def describe(store: Any) -> str:
    if isinstance(store, S3Store):
        return f"S3 {store.config.endpoint}/{store.config.bucket}"
    if isinstance(store, HttpObjectStore):
        return f"Colonies server {store.host}:{store.port}"
    if isinstance(store, LocalDirStore):
        return f"directory {store.root}"
    if isinstance(store, StoreRouter):
        return store.description
    return type(store).__name__


def store_from_env(client: Any, colonyname: str, prvkey: str, env: Mapping[str, str] | None = None) -> StoreRouter:
    """S3 (AWS_S3_*) when AWS_S3_ENDPOINT is set, else the embedded store of `client`'s server.

    `client` is anything with `host`, `port`, `tls` and `verify` attributes (a `client.Client`).
    """
    env = dict(os.environ if env is None else env)
    verify = bool(getattr(client, "verify", True))

    def colonies(colony: str) -> HttpObjectStore:
        return HttpObjectStore(client.host, int(client.port), colony, prvkey, tls=bool(client.tls), verify=verify)

    if env.get("AWS_S3_ENDPOINT"):
        primary: ObjectStore = S3Store(S3Config.from_env(env))
    else:
        primary = colonies(colonyname)
    return StoreRouter(primary, env, colonies)
