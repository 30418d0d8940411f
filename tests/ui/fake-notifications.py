#!/usr/bin/python3
"""A stand-in notification service on the session bus for the UI tests:
org.freedesktop.Notifications, which an app outside a sandbox uses, and the
Notification portal (org.freedesktop.portal.Desktop), which GLib uses inside
a Flatpak. Each notification shown or withdrawn is recorded as one JSON line
in the file named by argv[1], the same for both; nothing is shown."""

import json
import sys

from gi.repository import Gio, GLib

XML = """
<node>
  <interface name="org.freedesktop.Notifications">
    <method name="Notify">
      <arg type="s" direction="in"/><arg type="u" direction="in"/>
      <arg type="s" direction="in"/><arg type="s" direction="in"/>
      <arg type="s" direction="in"/><arg type="as" direction="in"/>
      <arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
      <arg type="u" direction="out"/>
    </method>
    <method name="CloseNotification"><arg type="u" direction="in"/></method>
    <method name="GetCapabilities"><arg type="as" direction="out"/></method>
    <method name="GetServerInformation">
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
      <arg type="s" direction="out"/><arg type="s" direction="out"/>
    </method>
    <signal name="ActionInvoked"><arg type="u"/><arg type="s"/></signal>
    <signal name="NotificationClosed"><arg type="u"/><arg type="u"/></signal>
  </interface>
</node>
"""

PORTAL_XML = """
<node>
  <interface name="org.freedesktop.portal.Notification">
    <method name="AddNotification">
      <arg type="s" direction="in"/><arg type="a{sv}" direction="in"/>
    </method>
    <method name="RemoveNotification"><arg type="s" direction="in"/></method>
    <signal name="ActionInvoked"><arg type="s"/><arg type="s"/><arg type="av"/></signal>
    <property name="version" type="u" access="read"/>
  </interface>
</node>
"""

log = open(sys.argv[1], "a", buffering=1)
next_id = [0]


def on_call(connection, sender, path, interface, method, params, invocation):
    args = params.unpack()
    if method == "Notify":
        replaces = args[1]
        if replaces:
            nid = replaces
        else:
            next_id[0] += 1
            nid = next_id[0]
        log.write(json.dumps({"call": "Notify", "id": nid, "summary": args[3], "body": args[4],
                              "category": args[6].get("category")}) + "\n")
        invocation.return_value(GLib.Variant("(u)", (nid,)))
    elif method == "CloseNotification":
        log.write(json.dumps({"call": "CloseNotification", "id": args[0]}) + "\n")
        invocation.return_value(None)
    elif method == "GetCapabilities":
        invocation.return_value(GLib.Variant("(as)", (["body", "actions"],)))
    else:
        invocation.return_value(GLib.Variant("(ssss)", ("fake", "quipu-tests", "1", "1.2")))


def on_portal_call(connection, sender, path, interface, method, params, invocation):
    args = params.unpack()
    if method == "AddNotification":
        note = args[1]
        log.write(json.dumps({"call": "Notify", "id": args[0], "summary": note.get("title"),
                              "body": note.get("body"), "category": note.get("category"),
                              "portal": True, "action": note.get("default-action"),
                              "target": note.get("default-action-target")}) + "\n")
    else:
        log.write(json.dumps({"call": "CloseNotification", "id": args[0]}) + "\n")
    invocation.return_value(None)


def on_portal_property(connection, sender, path, interface, name):
    return GLib.Variant("u", 2)


def on_portal_bus(connection, name):
    info = Gio.DBusNodeInfo.new_for_xml(PORTAL_XML).interfaces[0]
    connection.register_object("/org/freedesktop/portal/desktop", info, on_portal_call,
                               on_portal_property, None)


def on_bus(connection, name):
    info = Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0]
    connection.register_object("/org/freedesktop/Notifications", info, on_call, None, None)


owned = set()


def on_name(connection, name):
    owned.add(name)
    if len(owned) == 2:
        log.write(json.dumps({"call": "ready"}) + "\n")


Gio.bus_own_name(Gio.BusType.SESSION, "org.freedesktop.Notifications", Gio.BusNameOwnerFlags.NONE,
                 on_bus, on_name, None)
Gio.bus_own_name(Gio.BusType.SESSION, "org.freedesktop.portal.Desktop", Gio.BusNameOwnerFlags.NONE,
                 on_portal_bus, on_name, None)
GLib.MainLoop().run()
