"""A Redfish client as BMC tooling would write it, with DMTF's `redfish` library from PyPI.

Usage: client.py URL CAFILE FIRST_PASSWORD NEW_PASSWORD SYSTEM CHASSIS IMAGE_URL

Logs in as admin with the first-run password, replaces it (the service insists), logs in
again, reads every sensor of CHASSIS, inserts IMAGE_URL into the virtual CD of SYSTEM's
manager (VirtualMedia.InsertMedia), and into its USB disk writable and out again (EjectMedia),
sets a one-time boot from the CD (Boot, Once), resets SYSTEM
with ForceRestart and reads back the newest entry of that system's event log. Prints one JSON object with what it saw; exits
non-zero with the service's error if any step fails.
"""

import json
import sys

import redfish


def check(response, expected, what):
    if response.status not in expected:
        sys.exit(f"{what}: HTTP {response.status}: {response.text}")
    return response


def main():
    url, cafile, first, new, system, chassis, image = sys.argv[1:8]
    client = redfish.redfish_client(base_url=url, username="admin", password=first, cafile=cafile)
    client.login(auth="session")
    blocked = client.get(f"/redfish/v1/Systems/{system}")
    refused_before_change = blocked.dict["error"]["code"] if blocked.status == 403 else None
    check(client.patch("/redfish/v1/AccountService/Accounts/1", body={"Password": new}), (200, 204), "password change")
    client.logout()

    client = redfish.redfish_client(base_url=url, username="admin", password=new, cafile=cafile)
    client.login(auth="session")
    sensors = {}
    listing = check(client.get(f"/redfish/v1/Chassis/{chassis}/Sensors"), (200,), "sensors")
    for member in listing.dict["Members"]:
        sensor = check(client.get(member["@odata.id"]), (200,), "sensor").dict
        sensors[sensor["Id"]] = {"Reading": sensor["Reading"], "ReadingUnits": sensor["ReadingUnits"]}

    computer = check(client.get(f"/redfish/v1/Systems/{system}"), (200,), "system").dict
    cd = virtual_cd(client, computer)
    insert = cd["Actions"]["#VirtualMedia.InsertMedia"]["target"]
    body = {"Image": image, "Inserted": True, "WriteProtected": True, "TransferProtocolType": "HTTP"}
    check(client.post(insert, body=body), (200, 202, 204), "insert media")
    refused_image = client.post(insert, body={"Image": "http://10.9.9.9/elsewhere.iso"})
    inserted = check(client.get(cd["@odata.id"]), (200,), "virtual CD").dict
    usb = virtual_medium(client, computer, "USBStick")
    usb_body = {"Image": image, "Inserted": True, "WriteProtected": False}
    check(client.post(usb["Actions"]["#VirtualMedia.InsertMedia"]["target"], body=usb_body), (200, 202, 204), "insert USB")
    usb_in = check(client.get(usb["@odata.id"]), (200,), "virtual USB disk").dict
    check(client.post(usb["Actions"]["#VirtualMedia.EjectMedia"]["target"], body={}), (200, 202, 204), "eject USB")
    usb_out = check(client.get(usb["@odata.id"]), (200,), "virtual USB disk").dict
    boot = {"Boot": {"BootSourceOverrideTarget": "Cd", "BootSourceOverrideEnabled": "Once"}}
    check(client.patch(computer["@odata.id"], body=boot), (200, 204), "boot override")
    booting = check(client.get(computer["@odata.id"]), (200,), "system").dict["Boot"]
    reset = computer["Actions"]["#ComputerSystem.Reset"]
    answer = check(client.post(reset["target"], body={"ResetType": "ForceRestart"}), (200, 202, 204), "reset")
    bad = client.post(reset["target"], body={"ResetType": "Explode"})

    log = computer["LogServices"]["@odata.id"] + "/EventLog/Entries"
    newest = check(client.get(log), (200,), "event log").dict["Members"][0]
    client.logout()
    print(json.dumps({
        "refused_before_change": refused_before_change,
        "power_state": computer["PowerState"],
        "allowed": reset["ResetType@Redfish.AllowableValues"],
        "reset_status": answer.status,
        "bad_reset": [bad.status, bad.dict["error"]["code"]],
        "sensors": sensors,
        "newest_event": newest["Message"],
        "inserted": {k: inserted[k] for k in ("Image", "ImageName", "Inserted", "WriteProtected", "ConnectedVia")},
        "usb": {k: usb_in[k] for k in ("Id", "Image", "Inserted", "WriteProtected", "MediaTypes")},
        "usb_after_eject": usb_out["Inserted"],
        "refused_image": [refused_image.status, refused_image.dict["error"]["@Message.ExtendedInfo"][0]["Message"]],
        "boot": {k: booting[k] for k in ("BootSourceOverrideTarget", "BootSourceOverrideEnabled")},
    }))


def virtual_cd(client, computer):
    return virtual_medium(client, computer, "CD")


def virtual_medium(client, computer, kind):
    """The medium of `kind` (CD, USBStick) among the VirtualMedia of the managers that manage
    `computer`."""
    for manager in computer["Links"]["ManagedBy"]:
        found = check(client.get(manager["@odata.id"]), (200,), "manager").dict
        if "VirtualMedia" not in found:
            continue
        media = check(client.get(found["VirtualMedia"]["@odata.id"]), (200,), "virtual media").dict
        for member in media["Members"]:
            medium = check(client.get(member["@odata.id"]), (200,), "virtual medium").dict
            if kind in medium["MediaTypes"]:
                return medium
    sys.exit(f"no virtual {kind} among the system's managers")


if __name__ == "__main__":
    main()
