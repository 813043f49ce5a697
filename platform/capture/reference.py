"""Each camera's reference view, the picture the "moved" rule compares with: loaded from the
object store the first time the worker captures the camera, stored from its first healthy frame."""
from __future__ import annotations

import logging

import cv2
import numpy as np

from .health import CameraHealthState, reference_of

log = logging.getLogger("camnet.worker")


def reference_key(cam) -> str:
    return f"{cam.commune_id}/{cam.id}/reference.png"


class ReferenceKeeper:
    """Reads and writes reference views in the object store."""

    def __init__(self, store):
        self.store = store

    def load(self, cam, state: CameraHealthState) -> None:
        """Once per camera (and after a reset): the stored view becomes ``state.reference``."""
        if state.reference_loaded:
            return
        state.reference_loaded = True
        if not cam.reference_key:
            return
        try:
            img = cv2.imdecode(np.frombuffer(self.store.get(cam.reference_key), np.uint8),
                               cv2.IMREAD_GRAYSCALE)
            state.reference = reference_of(img) if img is not None else None
        except Exception:  # noqa: BLE001 - no reference yet: the next healthy frame sets one
            log.warning("camera %s: reference view unreadable", cam.id)

    def keep(self, cam, state: CameraHealthState, small) -> bytes | None:
        """Store a healthy frame as the camera's reference; its PNG (for the writer to note the
        key on the camera's row), or None if the store is away (a later healthy frame tries again)."""
        ok, png = cv2.imencode(".png", small)
        try:
            self.store.put(reference_key(cam), png.tobytes(), "image/png")
        except Exception:  # noqa: BLE001 - try again on a later healthy frame
            return None
        state.reference = reference_of(small)
        return png.tobytes()
