"""What a custom field's vCard line shows, written independently of the
daemon (docs/vcard.md, "Custom fields"): what the Pipedrive UI shows, never a
bare id.

expected_field_text(value, fdef, names) -> the text after vCard unescaping,
or None when the field has no line.  `names` = {"user": {id: name},
"org": {id: name}, "people": {id: name}}, see company_names(server).
"""

RANGE = " \u2013 "   # " – " between the ends of a range


def single_line(text):
    """The vCard's single-line cleaning: line breaks and TAB as one space,
    control characters dropped, white space trimmed at both ends."""
    text = text.replace("\r\n", " ").replace("\r", " ").replace("\n", " ")
    text = text.replace("\t", " ")
    text = "".join(c for c in text if ord(c) >= 0x20 and ord(c) != 0x7F)
    return text.strip(" ")


def number_text(v):
    """Integers as integers, others with up to 15 significant digits."""
    if isinstance(v, int):
        return str(v)
    if v == 0:
        return "0"
    return "%.15g" % v


def person_name(p):
    if p.get("name"):
        return p["name"]
    parts = [x for x in (p.get("first_name"), p.get("last_name")) if x]
    return " ".join(parts) or None


def company_names(server):
    """The names user, org and people fields resolve to, from the fake."""
    return {"user": {u["id"]: u["name"] for u in server.users()},
            "org": {o["id"]: o["name"] for o in server.organizations()},
            "people": {p["id"]: person_name(p) for p in server.persons()}}


def _option_text(value, opts):
    values = value if isinstance(value, list) else [value]
    labels = [opts[v] for v in values if v in opts]
    return ", ".join(labels) or None


def _raw_text(value, ftype):
    if ftype in ("double",) and isinstance(value, (int, float)):
        return number_text(value)
    if ftype == "monetary":
        return f"{number_text(value['value'])} {value['currency']}"
    if ftype == "address":
        return value.get("formatted_address") or value.get("value")
    if isinstance(value, dict):          # daterange, time, timerange
        text = value["value"]
        if value.get("until"):
            text += RANGE + value["until"]
        if value.get("timezone_name"):
            text += f" ({value['timezone_name']})"
        return text
    return str(value)


def expected_field_text(value, fdef, names):
    if value is None:
        return None
    ftype = fdef["field_type"]
    if ftype in ("enum", "set"):
        text = _option_text(value, {o["id"]: o["label"]
                                    for o in fdef.get("options") or ()})
    elif ftype in ("user", "org", "people"):
        text = names[ftype].get(value)
    else:
        text = _raw_text(value, ftype)
    text = single_line(text) if text else ""
    return text or None
