"""/auth/devices: the devices signed in to this account."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import get_jwt

from clarity_api.api.docs import id_parameter, links
from clarity_api.extensions import db
from clarity_api.schemas.auth import DeviceSchema
from clarity_api.services import devices
from clarity_api.web.auth import signed_in, signed_in_user_id, signed_in_without_budget
from clarity_api.web.openapi import errors
from clarity_api.web.parsing import ClarityBlueprint

blp = ClarityBlueprint("devices", __name__, url_prefix="/auth/devices", description="Devices")


@blp.route("", methods=["GET"])
@signed_in
@blp.response(200, DeviceSchema(many=True))
@blp.doc(
    responses={
        200: {
            "links": links(
                "/auth/devices/{device_id}",
                {"ForgetDevice": "delete"},
                "device_id",
                "$response.body#/0/id",
            )
        }
    },
)
def list_devices() -> Any:
    """This account's devices, oldest first; `is_current` (and `is_active`) marks this one."""
    current_device = devices.current_id(get_jwt()["lid"])
    return [
        {"device": d, "is_current": d.id == current_device}
        for d in devices.list_for(signed_in_user_id())
    ]


@blp.route(
    "/<device_id>",
    methods=["DELETE"],
    parameters=[id_parameter("device_id", "device", "404 DEVICE_NOT_FOUND")],
)
@signed_in_without_budget
@blp.response(204)
@errors(
    400,
    404,
    429,
    e400="CANNOT_REMOVE_CURRENT_DEVICE: the device of the login making the request",
    e404="DEVICE_NOT_FOUND",
    e429="REMOVAL_LIMIT_EXCEEDED: one device removal per account per UTC day (Retry-After "
    "says when the next is possible)",
)
def delete_device(device_id: str) -> Any:
    """Forget a device; its logins are revoked.

    Unknown or someone else's: 404. Not the device this request signs in on, and at most one
    removal per account per UTC day.
    """
    current_device = devices.current_id(get_jwt()["lid"])
    devices.forget(signed_in_user_id(), device_id, current_device)
    db.session.commit()
    return None
