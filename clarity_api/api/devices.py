"""/auth/devices: the devices signed in to this account."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import get_jwt

from clarity_api.api.docs import id_parameter, links
from clarity_api.extensions import db
from clarity_api.schemas.auth import DeviceListSchema
from clarity_api.services import devices
from clarity_api.web.auth import signed_in, signed_in_user_id
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint("devices", __name__, url_prefix="/auth/devices", description="Devices")


@blp.route("", methods=["GET"])
@signed_in
@blp.response(200, DeviceListSchema)
@blp.doc(
    responses={
        200: {
            "links": links(
                "/auth/devices/{device_id}",
                {"ForgetDevice": "delete"},
                "device_id",
                "$response.body#/devices/0/id",
            )
        }
    },
)
def list_devices() -> Any:
    """This account's devices; `is_current` marks the one this token signed in on."""
    current_device = devices.current_id(get_jwt()["lid"])
    items = [
        {
            "id": d.id,
            "device_name": d.device_name,
            "platform": d.platform,
            "created_at": d.created_at,
            "last_active_at": d.last_active_at,
            "is_current": d.id == current_device,
        }
        for d in devices.list_for(signed_in_user_id())
    ]
    return {"devices": items}


@blp.route(
    "/<device_id>",
    methods=["DELETE"],
    parameters=[id_parameter("device_id", "device", "404 DEVICE_NOT_FOUND")],
)
@signed_in
@blp.response(204)
@errors(404, e404="DEVICE_NOT_FOUND")
def delete_device(device_id: str) -> Any:
    """Forget a device; its logins are revoked. Unknown or someone else's: 404."""
    devices.forget(signed_in_user_id(), device_id)
    db.session.commit()
    return None
