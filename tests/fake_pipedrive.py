#!/usr/bin/env python3
"""fake_pipedrive.py -- a faithful, stdlib-only fake of the Pipedrive REST API.

Serves the subset of the Pipedrive API that pipedrivefs uses (persons,
organizations, users, filters, person fields) with deterministic generated
data, the real API's error shapes, rate limits and abuse escalation, plus a
control interface (``/_control/...``) that tests use to inspect traffic,
mutate data and inject faults.  Behaviour follows
/work/shared/reference/pipedrive-api.md (sections 0, 1, 3, 4, 7).

Runs under any Python >= 3.10 (uses ``bisect`` with ``key=``); no third-party
packages.

Command line
============
  python3 tests/fake_pipedrive.py [options]

  --host H                 bind address (default 127.0.0.1)
  --port P                 port, 0 = pick a free one (default 0)
  --port-file PATH         write the bound port ("1234\\n") to PATH atomically
                           (temp file + rename) once listening
  --token T                accepted API token (default "test-token"); sent as
                           header ``x-api-token: T`` (header name case-insensitive)
                           or ``Authorization: Bearer T``
  --persons N              number of generated persons, ids 1..N (default 100;
                           1..1,000,000 supported; person objects are generated
                           lazily, only sort/filter attributes are precomputed)
  --owners K               users 1..K own persons (default 3); user K+1 exists,
                           is deactivated (active_flag false) and owns nothing
  --orgs M                 organizations 1..M (default 10)
  --seed S                 data seed (default 1); data is a pure function of
                           the arguments (and of the current UTC day for the
                           handful of "recently updated" persons)
  --company NAME           company_domain reported by /users/me (default acme)
  --rate-limit N           burst limit: requests per rolling 2 s window per
                           token (default 20; 0 = unlimited)
  --daily-budget T         daily token budget, resets at midnight UTC
                           (default 0 = unlimited).  Costs: list persons 10,
                           get person 1, list orgs 10, get org 1, users 20,
                           users/me 2, filters 20, v2 personFields 10,
                           v1 personFields 20, persons/search 20, POST and
                           PATCH persons 5, DELETE persons 3, anything else 0
  --search-rate-limit N    Search API burst limit: searches per rolling 2 s
                           window per token, on top of --rate-limit
                           (default 10 as on every Pipedrive plan; 0 =
                           unlimited); see "Person search" below
  --no-ratelimit-headers   omit x-ratelimit-* and x-daily-ratelimit-* headers
  --ratelimit-reset-style S  what x-ratelimit-reset says: seconds (default,
                           documented: 0..2 s until the window frees), epoch
                           (the Unix time it frees), absurd (99999999) or
                           negative (-1 - seconds)
  --retry-after-style S    Retry-After of every 429: seconds (default), huge
                           (999999 s) or http-date (an IMF-fixdate that far in
                           the future)
  --daily-429-style S      explicit (default: x-daily-ratelimit-token-* headers,
                           body "daily request budget exceeded") or silent (no
                           x-daily-* header on any answer, body "Too many
                           requests", only the long Retry-After tells)
  --latency-ms MS          delay added to every API answer (default 0)
  --no-tricky              do not install the tricky persons/orgs
  --no-contact-sync        omit im, postal_address, notes, birthday, job_title
  --gzip                   gzip bodies for requests with Accept-Encoding: gzip
  --quiet                  no per-request log lines on stderr

Variants the API documentation leaves open (each also a /_control/config key
of the same name with "_" for "-"; default first):
  --label-option-ids int|string|key
                           ids of the built-in label field's options (personFields
                           label_ids) and in persons' label_ids.  The spec types
                           option ids as integers for custom fields and strings
                           for built-in ones.  string: personFields has "1".."5",
                           even persons' label_ids hold strings, odd ones keep
                           integers; key: "customer", "vip", "hot_lead",
                           "cold_lost", "partner_a" everywhere (include_labels too)
  --filter-time-bounds applied|ignored
                           whether updated_since/updated_until apply when filter_id
                           is set (the spec says filter_id overrides ids, owner_id,
                           org_id and deal_id, and nothing about time bounds);
                           ignored: a filter_id answer is the whole filter
  --deleted-in-answers omit|include
                           include: updated_since and ids= list answers also carry
                           soft-deleted persons, with "is_deleted": true (the real
                           API keeps them 30 days); plain lists never do
  --time-field-style object|string
                           the time custom field as {value, timezone_name} and
                           timerange as {value, until, timezone_name}, or (string)
                           time as "HH:MM:SS" and timerange as {value, until}
  --invalid-utf8-person ID person ID's name, notes and Nickname field carry raw
                           invalid UTF-8 bytes in API answers (0 = none; the
                           control interface shows them as \\udcXX escapes)
  --create-status 200|201  the HTTP status of a successful POST /persons: the
                           v2 spec says 200, v1 answered 201 Created

Prints ``listening on HOST:PORT`` to stderr.  SIGTERM / SIGINT exit cleanly.
HTTP/1.1 with keep-alive (TCP_NODELAY); every answer has Content-Length,
``content-type: application/json`` (except the Cloudflare HTML 403) and
``x-correlation-id``.  Memory: the default JSON of every person served is
cached, about 1 KB per person (~1.2 GB after a full walk of 1M persons);
startup for 1M persons takes ~3 s, an uncached page of 500 ~15 ms, a cached
one ~1 ms.  HEAD is not supported (501 from http.server).

API routes (host-agnostic; v1 routes also answer under /v1/...)
================================================================
  GET /api/v2/persons             cursor paged list (see "Lists" below)
  GET /api/v2/persons/search      person search (see "Person search" below)
  GET /api/v2/persons/{id}        one person; unknown/permanently deleted id ->
                                  404 {"success":false,"error":"Person not
                                  found",...}; soft-deleted -> 200 with
                                  is_deleted:true (or 404 with config
                                  deleted_get="404"); non-integer id -> 400
  GET /api/v2/organizations       cursor paged list (no org_id/deal_id params)
  GET /api/v2/organizations/{id}  one organization ("Organization not found")
  GET /api/v1/users               all users (K active + 1 deactivated)
  GET /api/v1/users/me            user 1 + company_* fields and language
  GET /api/v1/filters[?type=T]    person filters for type=people (or no type);
                                  other valid types -> [] ; invalid type -> 400
  GET /api/v2/personFields        cursor paged (limit, cursor, include_fields)
  GET /api/v1/personFields        offset paged (start, limit) v1 shape
  POST   /api/v2/persons          create (see "Person writes")
  PATCH  /api/v2/persons/{id}     update
  DELETE /api/v2/persons/{id}     soft delete
  anything else / other methods   401 gateway body when unauthenticated,
                                  otherwise 404 generic error

Person writes
-------------
Request bodies as the v2 spec's addPerson / updatePerson: a JSON object of
name, owner_id, org_id, emails, phones, im ({value, primary, label} lists),
visible_to (1/3/5/7), label_ids, postal_address (the ten string parts),
notes (<= 10,000 characters), birthday (YYYY-MM-DD), job_title,
marketing_status (its four values), custom_fields (known keys; an enum takes
an option id; [] for a set -> 400 "use null"), and for POST add_time.  Any
other key, a wrong type, an unknown owner (users 1..K+1), organization or
label, a name that is empty (or missing in a POST) -> 400 with the generic
schema error body; the contact-sync keys with --no-contact-sync -> 403;
PATCH/DELETE of an unknown or soft-deleted id -> 404 "Person not found";
any query parameter -> 400.  Label ids come back as label_option_ids serves
them ("1" or "customer" are read back as 1).  A write sets the fields given
(arrays and postal_address replaced, custom_fields merged key by key),
first_name/last_name from name (first word / the rest, this fake's split),
update_time := max(now, old + 1 s); a POST makes the next id (owner 1 and
null fields unless given).  Answers: {"success":true,"data":<the person as
GET /persons/{id} serves it>} (POST: HTTP 200, or 201 with create_status),
DELETE {"success":true,"data":{"id":N}}.

Lists (persons and organizations)
---------------------------------
Parameters exactly as documented; any other query parameter -> 400.
filter_id takes precedence (ids/owner_id/org_id/deal_id then ignored); the
other filters combine with AND.  deal_id is validated but no deals exist, so it
yields an empty list.  updated_since is inclusive, updated_until exclusive;
both must be whole-second RFC3339 (Z or +hh:mm offset).  sort_by id |
update_time | add_time, sort_direction asc | desc.  include_fields takes the
documented enum (unknown value -> 400); values are deterministic.  custom_fields
<= 15 known custom-field keys (only those appear in ``custom_fields``).
include_option_labels / include_labels take true|false.  limit 1..500
(default 100; anything else -> 400).  Deleted persons are never listed (but
see deleted_in_answers).

All 400s use the generic body {"success":false,"error":"ERR_SCHEMA_VALIDATION_
FAILED: ...","error_info":"Please check developers.pipedrive.com","data":null,
"additional_data":null}.

Cursor: base64url (no padding) of JSON {"field":F,"fieldValue":V,
"sortDirection":D,"id":I} describing the LAST item of the page (V is the int id
or the RFC3339 time).  It is a keyset cursor evaluated against the current data:
the next page holds the items strictly after (V, I) in the request's order, so
an item edited mid-walk can move (skip/duplicate) exactly like the real API.
A cursor that does not decode, or whose field/direction differ from the
request's sort_by/sort_direction -> 400.  The last page has
"next_cursor": null (the server fetches limit+1 items to know).

Filters (GET /api/v1/filters?type=people and /persons?filter_id=)
  1 "All persons"                   every person
  2 "Owner 1 with email"            owner_id == 1 and at least one email
  3 "Updated in the last 30 days"   update_time >= now - 30 days
  4 "Nobody"                        matches nothing
  5 "EMEA/DACH, Tier 1 (org 1)"     org_id == 1
Unknown filter_id -> 400 generic error "Filter not found" (this fake's
choice).  /organizations has no filters: any filter_id -> 400.

Person search (GET /api/v2/persons/search)
------------------------------------------
Parameters as in the v2 spec; any other -> 400 (generic schema error).
term (required; stripped; at least 2 characters, 1 with exact_match),
fields (comma list of custom_fields, email, notes, phone, name; default all),
exact_match (true|false), organization_id (int; at most the first 2,000 hits),
include_fields (only person.picture), limit 1..500 (default 100), cursor
(opaque: base64url JSON {"offset": N}; anything else -> 400).  Matching is
case-insensitive (casefold): a field value equal to the term scores 1,
a word of it starting with the term 0.75, containing it elsewhere 0.5 (with
exact_match only equality counts); phones also match on digits only ("5551234" finds "+1 (555)
123-4"); custom_fields searches the searchable types (varchar, monetary
value, ...: here Nickname and Budget); notes only with contact sync.
result_score = max over matches of field weight (name 1, email 0.8, phone
0.7, custom_fields 0.5, notes 0.3) x that factor, 4 decimals; results by
score desc, then id asc.  Deleted persons are never found.  Answer:
{"success":true,"data":{"items":[{"result_score":S,"item":{"id","type":
"person","name","phones":[str],"emails":[str],"visible_to":int,"owner":
{"id"},"organization":{"id","name","address":str|null}|null,
"custom_fields":[matched values as str],"notes":[matched notes]}}]},
"additional_data":{"next_cursor":str|null}} (+ "picture": null|{"id"} with
include_fields=person.picture).  Cost 20 tokens.  The data is scanned
linearly (fine for test sizes, slow for 1M persons).
Search burst limit: its own rolling 2 s window per token (--search-rate-limit,
default 10), checked after auth and before the general limits; when it is
full the answer is the general burst 429 (same body, retry-after,
x-ratelimit-remaining: 0 plus x-ratelimit-limit/-reset of the search window)
and the request neither enters the general window nor spends tokens nor feeds
the abuse escalation (this fake's choice).  A search that passes it counts in
the general window and the budget like any request.  Successful search
answers carry x-ratelimit-limit/-remaining/-reset of the SEARCH window
(limit 10), not of the general one (the spec leaves open which it is).

Auth, rate limits, abuse
------------------------
Missing/wrong token -> 401 {"success":false,"error":"unauthorized access",
"errorCode":401,"error_info":"Please check developers.pipedrive.com"} with
headers x-401-by-gw: true.  Order of checks: auth, abuse block, daily budget,
burst window.  Headers on every authenticated API answer (unless
--no-ratelimit-headers): x-ratelimit-limit / -remaining / -reset (only when a
burst limit is set; reset = whole seconds 0..2 until the oldest request leaves
the window) and x-daily-ratelimit-token-limit / -remaining (only when a budget is
set).  Burst exceeded -> 429 {"success":false,"error":"Request over limit",
"errorCode":429}, retry-after, x-ratelimit-remaining: 0.  Budget exhausted ->
429 {"success":false,"error":"daily request budget exceeded","errorCode":429},
retry-after = seconds to midnight UTC, x-daily-ratelimit-token-remaining: 0.
With --no-ratelimit-headers a 429 carries only retry-after.  The variants the
documentation leaves open are switches (flags above, /_control/config keys):
ratelimit_reset_style changes x-ratelimit-reset on every answer,
retry_after_style the Retry-After of every 429 (burst, daily, injected),
daily_429_style=silent removes every x-daily-* header and the word "daily"
from the budget 429 (Pipedrive's real budget 429 was seen with retry-after:
3939).  429/403-rejected
requests neither enter the burst window nor spend tokens; every other
authenticated request (including 400/404 answers) does, at the route's cost
(unknown routes cost 0).  The budget is one pool for the whole fake
"company" and resets at midnight UTC.  Abuse: a
429 opens a "429 period" (until retry-after elapses); if the token gets more
than 5 further 429s inside that period it is blocked for 60 s: 403,
content-type text/html, a Cloudflare page ("This error is produced by
Cloudflare").  Injected 429 faults do not feed the abuse logic.

Generated data
--------------
Person i: owner_id = 1 + (i-1) % K; org_id = null if i % 7 == 0 else
1 + (i-1) % M (this holds for the tricky persons too).  Keys in the order
id, name, first_name, last_name, owner_id, org_id, add_time, update_time,
emails, phones, is_deleted, visible_to, label_ids, picture_id, custom_fields,
notes, im, birthday, job_title, postal_address (the last five only with contact
sync).  Times are RFC3339 whole-second UTC, update_time within 400 days before
2026-06-01; persons with i % 50 == 3 were updated within the 3 days before
today's midnight UTC.  custom_fields holds all 16 custom keys (mostly null),
one field of every v2 type, values in the v2 shapes: varchar (Nickname),
enum (Lead source, option id), set (Interests, [ids]), monetary (Budget,
{value, currency}), date (Contract date), varchar_auto, text (with a line
break), double, phone, daterange ({value, until}), time and timerange (see
time_field_style), user (a user id), org (an organization id), people (an
earlier person with the same owner and organization; a recently updated one
for i % 50 == 3) and address ({value, route, ..., formatted_address}).  The
fields after the first five come from their own random stream, so the rest
of a person is as it was before they existed.

Tricky persons (ids 1..31, unless --no-tricky; only those <= N exist):
   1  , ; \\ " : in name and notes (Doe, John; "JD" \\ Jr.: CEO)
   2  \\n in name, notes with \\n \\r\\n \\r and TAB
   3  \\r\\n, \\r and TAB in the name
   4  slash in the name: AC/DC
   5  name is only dots: ".."
   6  name starts with dots: "..hidden"
   7  nothing: name/first/last null, no emails, phones, org (org null by rule),
      contact-sync fields null/empty
   8  name starts with "-": "-rf --no-preserve-root"
   9  emoji with skin tones and ZWJ sequences
  10  CJK name (山田 太郎)
  11  Arabic name
  12  Hebrew name with RLM (U+200F)
  13  empty name "" with empty first/last but an email
  14  last_name null (mononym "Madonna"), org_id null (by rule)
  15  no email (phones only)
  16  duplicate phone 12345 (work + mobile) and differently formatted numbers
  17  custom labels: assistant, billing, "Büro, 2. OG"
  18  IMs skype / whatsapp / jabber / telegram
  19  postal_address with only "value"
  20  German postal address with all components
  21  birthday "2000-12-31", org null (by rule)
  22  birthday null, job_title null, notes null
  23  a 3,500-character note (ASCII, 2-, 3-, 4-byte UTF-8, \\ , ;)
  24  a 300-character ASCII name
  25  a 300-character CJK name (900 UTF-8 bytes)
  26  BEL, ESC, DEL and NUL control characters in name and notes
  27  leading/trailing spaces in the name
  28  several label_ids [1,2,3,4,5], org null (by rule), a value in every
      custom field (characters vCards escape; user 2, org 1, person 1)
  29  "John Smith"   30  "John Smith" (duplicate names, different emails)
  31  name "." (a single dot), primary email not first
Tricky organizations (ids 1..8): "Acme, Inc.; EMEA", 'Back\\slash "Quoted"
GmbH', "Rocket 🚀 Labs 👩🏽‍💻", "AC/DC Holdings", "..", "株式会社テスト",
"Line\\nBreak Ltd", "  Spaces  ".

Control interface (no auth, not counted in stats, no faults/latency)
====================================================================
  GET    /_control/stats            {"total","by_route","by_status","requests"}
                                    (last 20,000 API requests; each has method,
                                    path, query, status, t, route, fault,
                                    body (the request's JSON body parsed, its
                                    text if it is not JSON, null if none),
                                    headers{x-api-token-present, authorization-
                                    present, accept, accept-encoding})
  POST   /_control/reset            clear stats, faults, rate-limit/abuse/daily
                                    state (data is kept)
  GET    /_control/persons?owner_id=&org_id=&filter_id=&ids=&updated_since=&updated_until=
                                    {"data":[...]} non-deleted matches, id asc,
                                    exactly the objects the API serves by default
  GET    /_control/persons/<id>     the raw stored person object (deleted
                                    ones too, contact-sync keys not stripped)
  POST   /_control/persons/<id>     merge a JSON object into the person (a
                                    "custom_fields" object is merged key-wise);
                                    update_time := max(now, old+1s) unless the
                                    body sets it; returns the person object
                                    (bare, not wrapped); setting is_deleted
                                    true soft-deletes
  POST   /_control/persons          create a person with the next id (defaults:
                                    empty name, owner 1, no org, now as
                                    add/update time); returns it (bare)
  DELETE /_control/persons/<id>     soft delete; ?permanent=1 removes it
  GET    /_control/organizations    {"data":[...]} non-deleted orgs
  GET    /_control/organizations/<id>  the raw stored organization
  POST   /_control/organizations/<id>  merge into the org (bumps update_time),
                                    returns it; POST /_control/organizations
                                    creates; DELETE works as for persons
  GET    /_control/users            {"data":[...]}
  GET    /_control/search?term=T[&fields=&exact_match=&organization_id=]
                                    {"data":[ids]}: every person the search
                                    API finds, in its order, all pages (no
                                    rate limit; 400 as the API for bad terms)
  GET    /_control/faults           current rules with remaining skip/count
  POST   /_control/faults           {"rules":[{"path":"/api/v2/persons",
                                    "kind":K,"skip":0,"count":1,
                                    "retry_after":1,"delay_ms":0}]} replaces
                                    the rule list.  path = prefix of the URL
                                    path; count -1 = forever; optional
                                    "method" (GET, POST, PATCH, DELETE) limits
                                    a rule to one method; "apply": true lets
                                    the request take effect first, then the
                                    fault answers (a write whose answer is
                                    lost: 500, drop, cut, ...).  Kinds: 429,
                                    429-daily, 500, 502, 503, 401, html403,
                                    drop, cut, slow, stall, success-false,
                                    malformed.  The first matching active rule
                                    fires; rules still in their skip phase
                                    count the request down.
  GET    /_control/config           current runtime config
  POST   /_control/config           any of {"rate_limit","latency_ms",
                                    "ratelimit_headers","daily_budget","gzip",
                                    "deleted_get":"soft"|"404",
                                    "search_rate_limit",
                                    "ratelimit_reset_style":"seconds"|"epoch"|
                                    "absurd"|"negative",
                                    "retry_after_style":"seconds"|"huge"|
                                    "http-date",
                                    "daily_429_style":"explicit"|"silent",
                                    "label_option_ids", "filter_time_bounds",
                                    "deleted_in_answers", "time_field_style",
                                    "invalid_utf8_person", "create_status"}
                                    (see above)
"""

import argparse
import base64
import bisect
import calendar
import codecs
import collections
import copy
import datetime
import email.utils
import functools
import gzip as gzip_mod
import hashlib
import json
import math
import os
import random
import re
import signal
import socket
import sys
import tempfile
import threading
import time
import traceback
import unicodedata
import uuid
import zlib
from array import array
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

# --------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------

ERROR_INFO = "Please check developers.pipedrive.com"
BASE_EPOCH = calendar.timegm((2026, 6, 1, 0, 0, 0))
DAY = 86400
SORT_FIELDS = ("id", "update_time", "add_time")
CONTACT_SYNC_KEYS = ("notes", "im", "birthday", "job_title", "postal_address")
PERSON_INCLUDE_FIELDS = (
    "next_activity_id", "last_activity_id", "open_deals_count",
    "related_open_deals_count", "closed_deals_count",
    "related_closed_deals_count", "participant_open_deals_count",
    "participant_closed_deals_count", "email_messages_count",
    "activities_count", "done_activities_count", "undone_activities_count",
    "files_count", "notes_count", "followers_count", "won_deals_count",
    "related_won_deals_count", "lost_deals_count", "related_lost_deals_count",
    "last_incoming_mail_time", "last_outgoing_mail_time", "marketing_status",
    "doi_status", "smart_bcc_email")
ORG_INCLUDE_FIELDS = (
    "next_activity_id", "last_activity_id", "open_deals_count",
    "related_open_deals_count", "closed_deals_count",
    "related_closed_deals_count", "email_messages_count", "people_count",
    "activities_count", "done_activities_count", "undone_activities_count",
    "files_count", "notes_count", "followers_count", "won_deals_count",
    "related_won_deals_count", "lost_deals_count", "related_lost_deals_count",
    "smart_bcc_email")
PERSON_LIST_PARAMS = frozenset((
    "filter_id", "ids", "owner_id", "org_id", "deal_id", "updated_since",
    "updated_until", "sort_by", "sort_direction", "include_fields",
    "custom_fields", "include_option_labels", "include_labels", "limit",
    "cursor"))
ORG_LIST_PARAMS = PERSON_LIST_PARAMS - {"org_id", "deal_id"}
ITEM_PARAMS = frozenset(("include_fields", "custom_fields",
                         "include_option_labels", "include_labels"))
FILTER_TYPES = ("deals", "leads", "org", "people", "products", "activity",
                "projects")
COSTS = {
    "/api/v2/persons": 10, "/api/v2/persons/{id}": 1,
    "/api/v2/organizations": 10, "/api/v2/organizations/{id}": 1,
    "/api/v1/users": 20, "/api/v1/users/me": 2, "/api/v1/filters": 20,
    "/api/v2/personFields": 10, "/api/v1/personFields": 20,
    "/api/v2/persons/search": 20,
}
RESET_STYLES = ("seconds", "epoch", "absurd", "negative")
RETRY_AFTER_STYLES = ("seconds", "huge", "http-date")
DAILY_429_STYLES = ("explicit", "silent")
FAULT_KINDS = ("429", "429-daily", "500", "502", "503", "401", "html403",
               "drop", "cut", "slow", "stall", "success-false", "malformed")
LABELS = [  # person label options (label_ids)
    {"id": 1, "label": "Customer", "color": "green"},
    {"id": 2, "label": "VIP", "color": "purple"},
    {"id": 3, "label": "Hot, lead; now", "color": "red"},
    {"id": 4, "label": "Cold/Lost", "color": "blue"},
    {"id": 5, "label": "Partner \"A\"", "color": "yellow"},
]
ORG_LABELS = [
    {"id": 1, "label": "Key account", "color": "green"},
    {"id": 2, "label": "Prospect", "color": "blue"},
]
CLOUDFLARE_403 = (
    "<!DOCTYPE html>\n<html lang=\"en-US\"><head><title>Access denied | "
    "api.pipedrive.com used Cloudflare to restrict access</title></head>\n"
    "<body><div id=\"cf-wrapper\"><h1>Error 1015</h1><h2>You are being rate "
    "limited</h2><p>The owner of this website (api.pipedrive.com) has banned "
    "you temporarily from accessing this website.</p><p>This error is "
    "produced by Cloudflare. See troubleshooting guide here.</p></div>"
    "</body></html>\n")


def _field_code(name):
    return hashlib.sha1(("pipedrivefs-fake:" + name).encode()).hexdigest()


# Custom person fields: (field_code, field_name, field_type, options)
CUSTOM_FIELDS = [
    (_field_code("nickname"), "Nickname", "varchar", None),
    (_field_code("lead_source"), "Lead source", "enum",
     [{"id": 11, "label": "Inbound"}, {"id": 12, "label": "Outbound"},
      {"id": 13, "label": "Referral, partner"}]),
    (_field_code("interests"), "Interests", "set",
     [{"id": 21, "label": "CRM"}, {"id": 22, "label": "Email; marketing"},
      {"id": 23, "label": "Reporting/BI"}]),
    (_field_code("budget"), "Budget", "monetary", None),
    (_field_code("contract_date"), "Contract date", "date", None),
    # one field of every other v2 type, as real companies have them
    (_field_code("industry_tag"), "Industry tag", "varchar_auto", None),
    (_field_code("background"), "Background", "text", None),
    (_field_code("score"), "Score", "double", None),
    (_field_code("assistant_phone"), "Assistant phone", "phone", None),
    (_field_code("trial_period"), "Trial period", "daterange", None),
    (_field_code("best_call_time"), "Best call time", "time", None),
    (_field_code("office_hours"), "Office hours", "timerange", None),
    (_field_code("account_manager"), "Account manager", "user", None),
    (_field_code("billing_org"), "Billing organization", "org", None),
    (_field_code("referred_by"), "Referred by", "people", None),
    (_field_code("home_address"), "Home address", "address", None),
]
CUSTOM_KEYS = [c[0] for c in CUSTOM_FIELDS]
CUSTOM_KEY_OF_TYPE = {c[2]: c[0] for c in reversed(CUSTOM_FIELDS)}
LABEL_KEYS = {1: "customer", 2: "vip", 3: "hot_lead", 4: "cold_lost",
              5: "partner_a"}  # label_option_ids=key: built-in string ids
ORG_CUSTOM_FIELDS = [
    (_field_code("org_region"), "Region", "varchar", None),
    (_field_code("org_tier"), "Tier", "enum",
     [{"id": 31, "label": "Tier 1"}, {"id": 32, "label": "Tier 2"}]),
]
ORG_CUSTOM_KEYS = [c[0] for c in ORG_CUSTOM_FIELDS]

FIRST_NAMES = ["Anna", "Ben", "Carla", "David", "Elif", "Farid", "Greta",
               "Hiro", "Ines", "Jonas", "Kasia", "Liam", "Maja", "Noah",
               "Olga", "Pedro", "Quinn", "Rosa", "Sven", "Tomás", "Uma",
               "Vera", "Wei", "Xenia", "Yusuf", "Zoë", "Łukasz", "Jürgen",
               "Amélie", "Søren"]
LAST_NAMES = ["Schmidt", "Müller", "García", "Smith", "Nguyen", "Kowalski",
              "Rossi", "Dubois", "Jensen", "Novak", "Yilmaz", "O'Brien",
              "Tanaka", "Silva", "Ivanova", "Berg", "Meyer", "Costa",
              "Fischer", "Wagner", "Brown", "Lee", "Khan", "Andersson",
              "Papadopoulos"]
JOB_TITLES = ["Manager", "CEO", "Head of Sales", "Engineer", "Buyer",
              "Assistant", "CTO", "Consultant"]
CITIES = [("Berlin", "Berlin", "DE", "10115"), ("Tallinn", "Harju", "EE",
          "10111"), ("Sunnyvale", "CA", "US", "94085"),
          ("Lisboa", "Lisboa", "PT", "1100-148"), ("Tokyo", "Tokyo", "JP",
          "100-0001")]

# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

M64 = (1 << 64) - 1
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})([Zz]|[+-]\d{2}:\d{2})$")


def mix64(x):
    """splitmix64 finaliser: a cheap, well-distributed deterministic hash."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def dhash(seed, ident, salt):
    return mix64((seed * 0x9E3779B97F4A7C15 + ident * 0x632BE59BD9B4E019
                  + salt * 0xD1B54A32D192ED03) & M64)


def rfc3339(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def v1time(epoch):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch))


def parse_rfc3339(text):
    """Whole-second RFC3339 -> epoch seconds, or None if invalid."""
    m = _RFC3339.match(text or "")
    if not m:
        return None
    try:
        y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
        dt = datetime.datetime(y, mo, d, hh, mi, ss)
    except ValueError:
        return None
    epoch = calendar.timegm(dt.timetuple())
    tz = m.group(7)
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        oh, om = int(tz[1:3]), int(tz[4:6])
        if oh > 23 or om > 59:
            return None
        epoch -= sign * (oh * 3600 + om * 60)
    return epoch


def b64url_encode(obj):
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text):
    """Decode base64url JSON (padding optional); None if malformed."""
    try:
        if not re.fullmatch(r"[A-Za-z0-9_-]+={0,2}", text):
            return None
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def now_s():
    return int(time.time())


@functools.lru_cache(maxsize=1024)
def ascii_slug(text):
    norm = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]+", "", norm.encode("ascii", "ignore")
                  .decode().lower()) or "x"


class ApiError(Exception):
    """An application-level error answered with the generic error body."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message):
    return ApiError(400, "ERR_SCHEMA_VALIDATION_FAILED: " + message)


def generic_error(message):
    return {"success": False, "error": message, "error_info": ERROR_INFO,
            "data": None, "additional_data": None}


# --------------------------------------------------------------------------
# sortable, filterable table of integer ids
# --------------------------------------------------------------------------

class Table:
    """Per-id sort/filter attributes in compact arrays plus lazy sort orders.

    state[i]: 0 = no such id, 1 = live, 2 = soft-deleted.  utime/atime are
    epoch seconds; cols holds extra integer columns (e.g. owner, org).
    Orders for update_time/add_time are lists of ids sorted by (time, id);
    they are built on first use and maintained incrementally.  Callers hold
    the owning store's lock.
    """

    def __init__(self, n, columns):
        self.state = bytearray(n + 1)
        self.utime = array("q", bytes(8 * (n + 1)))
        self.atime = array("q", bytes(8 * (n + 1)))
        size = array("q").itemsize * (n + 1)
        self.cols = {c: array("q", bytes(size)) for c in columns}
        self._orders = {}

    def max_id(self):
        return len(self.state) - 1

    def grow(self):
        """Append one (absent) id slot and return the new id."""
        self.state.append(0)
        self.utime.append(0)
        self.atime.append(0)
        for col in self.cols.values():
            col.append(0)
        return len(self.state) - 1

    def _arr(self, field):
        return self.utime if field == "update_time" else self.atime

    def sortkey(self, field):
        if field == "id":
            return None
        arr = self._arr(field)
        return lambda i: (arr[i] << 32) | i

    def order(self, field):
        if field == "id":
            return range(1, len(self.state))
        if field not in self._orders:
            self._orders[field] = sorted(range(1, len(self.state)),
                                         key=self.sortkey(field))
        return self._orders[field]

    def set_time(self, field, i, value):
        """Change update_time/add_time of id i, keeping its order sorted."""
        arr = self._arr(field)
        order = self._orders.get(field)
        if order is None:
            arr[i] = value
            return
        key = self.sortkey(field)
        pos = bisect.bisect_left(order, key(i), key=key)
        if pos < len(order) and order[pos] == i:
            del order[pos]
        arr[i] = value
        bisect.insort(order, i, key=key)

    def walk(self, field, direction, after, pred, limit, order=None,
             deleted=False):
        """Return (ids, has_more): up to `limit` live ids (and soft-deleted
        ones if `deleted`) matching pred that come strictly after the keyset
        position `after` = (value, id)."""
        if order is None:
            order = self.order(field)
        key = self.sortkey(field)
        if after is None:
            pos = 0 if direction == "asc" else len(order) - 1
        else:
            ak = after[1] if field == "id" else (after[0] << 32) | after[1]
            if direction == "asc":
                pos = bisect.bisect_right(order, ak, key=key)
            else:
                pos = bisect.bisect_left(order, ak, key=key) - 1
        step = 1 if direction == "asc" else -1
        out, state, n = [], self.state, len(order)
        top = 2 if deleted else 1
        while 0 <= pos < n and len(out) <= limit:
            i = order[pos]
            if 0 < state[i] <= top and (pred is None or pred(i)):
                out.append(i)
            pos += step
        return out[:limit], len(out) > limit


# --------------------------------------------------------------------------
# list-parameter parsing shared by persons and organizations
# --------------------------------------------------------------------------

def parse_int(params, name, lo=1, hi=None):
    if name not in params:
        return None
    text = params[name]
    if not re.fullmatch(r"[0-9]+", text or ""):
        raise bad_request("parameter '%s' must be an integer" % name)
    val = int(text)
    if val < lo or (hi is not None and val > hi):
        raise bad_request("parameter '%s' must be between %d and %s"
                          % (name, lo, hi if hi is not None else "inf"))
    return val


def parse_bool(params, name):
    if name not in params:
        return False
    val = params[name].lower()
    if val not in ("true", "false", "1", "0"):
        raise bad_request("parameter '%s' must be a boolean" % name)
    return val in ("true", "1")


def parse_enum_list(params, name, allowed, max_items=None):
    if name not in params:
        return []
    items = params[name].split(",")
    if any(not it for it in items):
        raise bad_request("parameter '%s' contains an empty item" % name)
    if max_items is not None and len(items) > max_items:
        raise bad_request("parameter '%s' allows at most %d items"
                          % (name, max_items))
    for it in items:
        if it not in allowed:
            raise bad_request("parameter '%s' has an invalid value '%s'"
                              % (name, it))
    return items


def parse_ids(params):
    if "ids" not in params:
        return None
    items = params["ids"].split(",")
    if len(items) > 100:
        raise bad_request("parameter 'ids' allows at most 100 ids")
    if not all(re.fullmatch(r"[0-9]+", it) for it in items):
        raise bad_request("parameter 'ids' must be comma separated integers")
    return sorted({int(it) for it in items})


def parse_time(params, name):
    if name not in params:
        return None
    epoch = parse_rfc3339(params[name])
    if epoch is None:
        raise bad_request("parameter '%s' is not a valid datetime (RFC3339, "
                          "e.g. 2025-01-01T10:20:00Z)" % name)
    return epoch


def parse_cursor(params, sort_by, direction):
    """Decode and check a keyset cursor; returns (epoch_or_id, id) or None."""
    if "cursor" not in params:
        return None
    cur = b64url_decode(params["cursor"])
    if not isinstance(cur, dict):
        raise bad_request("parameter 'cursor' is malformed")
    field, val, cid = cur.get("field"), cur.get("fieldValue"), cur.get("id")
    if field != sort_by or cur.get("sortDirection") != direction:
        raise bad_request("parameter 'cursor' does not match sort_by/"
                          "sort_direction")
    if not isinstance(cid, int) or isinstance(cid, bool) or cid < 0:
        raise bad_request("parameter 'cursor' is malformed")
    if field == "id":
        if val != cid:
            raise bad_request("parameter 'cursor' is malformed")
        return (cid, cid)
    epoch = parse_rfc3339(val) if isinstance(val, str) else None
    if epoch is None:
        raise bad_request("parameter 'cursor' is malformed")
    return (epoch, cid)


class ListQuery:
    """Validated list parameters (persons or organizations)."""

    def __init__(self, params, allowed, include_enum, custom_keys):
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise bad_request("unknown query parameter '%s'" % unknown[0])
        self.filter_id = parse_int(params, "filter_id")
        self.ids = parse_ids(params)
        self.owner_id = parse_int(params, "owner_id")
        self.org_id = parse_int(params, "org_id")
        self.deal_id = parse_int(params, "deal_id")
        self.since = parse_time(params, "updated_since")
        self.until = parse_time(params, "updated_until")
        self.sort_by = params.get("sort_by", "id")
        if self.sort_by not in SORT_FIELDS:
            raise bad_request("parameter 'sort_by' must be one of id, "
                              "update_time, add_time")
        self.direction = params.get("sort_direction", "asc")
        if self.direction not in ("asc", "desc"):
            raise bad_request("parameter 'sort_direction' must be asc or desc")
        self.view = ViewOptions(params, include_enum, custom_keys)
        self.limit = parse_int(params, "limit", 1, 500) or 100
        self.after = parse_cursor(params, self.sort_by, self.direction)


class ViewOptions:
    """Per-request rendering options (include_fields, custom_fields, ...)."""

    def __init__(self, params, include_enum, custom_keys):
        self.include = parse_enum_list(params, "include_fields", include_enum)
        self.custom = parse_enum_list(params, "custom_fields",
                                      set(custom_keys), 15) or None
        self.option_labels = parse_bool(params, "include_option_labels")
        self.labels = parse_bool(params, "include_labels")

    def is_default(self):
        return not (self.include or self.custom or self.option_labels
                    or self.labels)


def make_cursor(field, direction, obj):
    return b64url_encode({"field": field, "fieldValue": obj[field],
                          "sortDirection": direction, "id": obj["id"]})


# --------------------------------------------------------------------------
# entity stores
# --------------------------------------------------------------------------

class EntityStore:
    """Common machinery for persons and organizations.

    Objects are generated lazily by gen(i); any object that was changed is
    materialised in self.over.  The default JSON rendering of each object is
    cached in self.cache (invalidated on change).  All access goes through
    self.lock.
    """

    kind = "entity"
    not_found = "Entity not found"
    columns = ("owner",)
    include_enum = ()
    custom_defs = ()

    def __init__(self, n, seed, company):
        self.lock = threading.RLock()
        self.seed = seed
        self.company = company
        self.table = Table(n, self.columns)
        self.over = {}
        self.cache = {}
        self.custom_keys = [c[0] for c in self.custom_defs]
        self.options = {c[0]: {o["id"]: o["label"] for o in c[3] or ()}
                        for c in self.custom_defs}

    # ---- to be provided by subclasses ------------------------------------
    def gen(self, i):
        raise NotImplementedError

    def predicate(self, q):
        return None

    def label_options(self):
        return []

    def strip_keys(self):
        return ()

    # ---- object access ----------------------------------------------------
    def exists(self, i):
        return 0 < i <= self.table.max_id() and self.table.state[i] != 0

    def get(self, i):
        """The stored object (do not mutate) or None."""
        with self.lock:
            if not self.exists(i):
                return None
            obj = self.over.get(i)
            return obj if obj is not None else self.gen(i)

    def get_copy(self, i):
        with self.lock:
            return copy.deepcopy(self.get(i))

    def sync_attrs(self, i, obj):
        t = self.table
        t.state[i] = 2 if obj.get("is_deleted") else 1
        t.cols["owner"][i] = obj.get("owner_id") or 0
        t.set_time("update_time", i, parse_rfc3339(obj.get("update_time")) or 0)
        t.set_time("add_time", i, parse_rfc3339(obj.get("add_time")) or 0)

    def render(self, i, view=None):
        """JSON text of object i as the API serves it."""
        if view is None or view.is_default():
            text = self.cache.get(i)
            if text is None:
                text = dumps(self._view(i, self.get(i), None))
                self.cache[i] = text
            return text
        return dumps(self._view(i, self.get(i), view))

    def _view(self, i, obj, view):
        strip = self.strip_keys()
        out = {}
        for k, v in obj.items():
            if k in strip:
                continue
            if k == "custom_fields" and isinstance(v, dict) and view:
                v = self._custom_view(v, view)
            out[k] = v
            if k == "label_ids" and view and view.labels:
                names = {o["id"]: o["label"] for o in self.label_options()}
                out["labels"] = [{"id": x, "label": names.get(x, "")}
                                 for x in v or ()]
        if view:
            for f in view.include:
                out[f] = self.include_value(i, f)
        return out

    def _custom_view(self, cf, view):
        keys = view.custom if view.custom else list(cf)
        out = {}
        for k in keys:
            val = cf.get(k)
            opts = self.options.get(k)
            if view.option_labels and opts and val is not None:
                if isinstance(val, list):
                    val = [{"id": x, "label": opts.get(x, "")} for x in val]
                elif isinstance(val, int):
                    val = {"id": val, "label": opts.get(val, "")}
            out[k] = val
        return out

    def include_value(self, i, field):
        h = dhash(self.seed, i, zlib_crc(field))
        if field.endswith("_count"):
            return h % 12
        if field.endswith("_activity_id"):
            return None if h % 3 == 0 else 1000 + h % 9000
        if field.endswith("_mail_time"):
            return None if h % 2 == 0 else rfc3339(BASE_EPOCH - h % (90 * DAY))
        if field == "marketing_status":
            return ("no_consent", "unsubscribed", "subscribed", "archived")[h % 4]
        if field == "doi_status":
            return ("pending", "confirmed", None)[h % 3]
        if field == "smart_bcc_email":
            return "%s+%s%d@pipedrivemail.com" % (self.company, self.kind, i)
        return None

    # ---- queries ----------------------------------------------------------
    def page(self, q):
        """Return (list of JSON texts, next_cursor or None) for ListQuery q."""
        with self.lock:
            order = None
            if q.filter_id is None and q.ids is not None:
                key = self.table.sortkey(q.sort_by)
                order = sorted((i for i in q.ids if self.exists(i)), key=key)
            ids, more = self.table.walk(q.sort_by, q.direction, q.after,
                                        self.predicate(q), q.limit, order,
                                        self.deleted_visible(q))
            texts = [self.render(i, q.view) for i in ids]
            cursor = None
            if more and ids:
                cursor = make_cursor(q.sort_by, q.direction, self.get(ids[-1]))
            return texts, cursor

    def all_matching(self, q):
        with self.lock:
            order = None
            if q.filter_id is None and q.ids is not None:
                order = [i for i in q.ids if self.exists(i)]
            ids, _ = self.table.walk("id", "asc", None, self.predicate(q),
                                     self.table.max_id() + 1, order)
            return [self.render(i) for i in ids]

    def deleted_visible(self, q):
        """True if this list answer also carries soft-deleted objects."""
        return False

    def base_predicates(self, q, times=True):
        """Time-window and owner predicates shared by all entities."""
        t = self.table
        preds = []
        if q.filter_id is None and q.owner_id is not None:
            owner, oid = t.cols["owner"], q.owner_id
            preds.append(lambda i: owner[i] == oid)
        if times and q.since is not None:
            ut, since = t.utime, q.since
            preds.append(lambda i: ut[i] >= since)
        if times and q.until is not None:
            ut, until = t.utime, q.until
            preds.append(lambda i: ut[i] < until)
        return preds

    # ---- mutation ----------------------------------------------------------
    def _materialise(self, i):
        obj = self.over.get(i)
        if obj is None:
            obj = self.gen(i)
            self.over[i] = obj
        return obj

    @staticmethod
    def _validate(body):
        for k in ("update_time", "add_time"):
            if k in body and (not isinstance(body[k], str)
                              or parse_rfc3339(body[k]) is None):
                raise ApiError(400, "%s must be whole-second RFC3339" % k)
        for k in ("owner_id", "org_id"):
            v = body.get(k)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)
                                  or v < 0 or v >= 1 << 62):
                raise ApiError(400, "%s must be an integer or null" % k)

    def update(self, i, body):
        """Merge body into object i (see module doc); returns the object."""
        with self.lock:
            if not self.exists(i):
                return None
            self._validate(body)
            obj = self._materialise(i)
            prev = parse_rfc3339(obj.get("update_time")) or 0
            for k, v in body.items():
                if k == "id":
                    continue
                if (k == "custom_fields" and isinstance(v, dict)
                        and isinstance(obj.get(k), dict)):
                    obj[k].update(v)
                else:
                    obj[k] = v
            if "update_time" not in body:
                obj["update_time"] = rfc3339(max(now_s(), prev + 1))
            self.sync_attrs(i, obj)
            self.cache.pop(i, None)
            return copy.deepcopy(obj)

    def create(self, body):
        with self.lock:
            self._validate(body)
            i = self.table.grow()
            obj = self.blank(i)
            self.over[i] = obj
            self.table.state[i] = 1
            for k, v in body.items():
                if k != "id":
                    obj[k] = v
            self.sync_attrs(i, obj)
            return copy.deepcopy(obj)

    def delete(self, i, permanent):
        with self.lock:
            if not self.exists(i):
                return False
            if permanent:
                self.over.pop(i, None)
                self.table.state[i] = 0
            else:
                obj = self._materialise(i)
                obj["is_deleted"] = True
                obj["update_time"] = rfc3339(max(
                    now_s(), (parse_rfc3339(obj.get("update_time")) or 0) + 1))
                self.sync_attrs(i, obj)
            self.cache.pop(i, None)
            return True


def zlib_crc(text):
    return zlib.crc32(text.encode())


def label_id_as(label_id, mode, person_id):
    """A label id as label_option_ids says: int as it is; string (numeric
    strings in personFields, and in label_ids of even persons while odd ones
    keep integers); key (non-numeric string ids everywhere)."""
    if mode == "key":
        return LABEL_KEYS.get(label_id, str(label_id))
    if mode == "string" and (person_id is None or person_id % 2 == 0):
        return str(label_id)
    return label_id


# Lone surrogates U+DC80..U+DCFF in a served person stand for the raw bytes
# 0x80..0xFF (invalid UTF-8 on the wire, see invalid_utf8_person).
INVALID_UTF8 = {
    "name": "Bad \udcff Byte \udcc3( Person",
    "notes": "cut \udce6\udc97 sequence, overlong \udcc0\udcaf, "
             "surrogate \udced\udca0\udc80 end",
}


def with_invalid_utf8(obj):
    out = dict(obj)
    for k, v in INVALID_UTF8.items():
        if k in out:
            out[k] = v
    cf = out.get("custom_fields")
    if isinstance(cf, dict) and CUSTOM_KEYS[0] in cf:
        out["custom_fields"] = dict(cf, **{CUSTOM_KEYS[0]: "Nick\udce9"})
    return out


def _raw_bytes_or_escape(err):
    """Encoding error handler: U+DC80..U+DCFF become the bytes they stand
    for, other lone surrogates stay visible as \\uXXXX escapes."""
    out = bytearray()
    for ch in err.object[err.start:err.end]:
        cp = ord(ch)
        if 0xDC80 <= cp <= 0xDCFF:
            out.append(cp - 0xDC00)
        else:
            out += ("\\u%04x" % cp).encode()
    return bytes(out), err.end


codecs.register_error("fake_raw_bytes", _raw_bytes_or_escape)


EMAIL_COUNTS = (0, 1, 1, 1, 1, 1, 2, 2, 2, 3)
PHONE_COUNTS = (0, 0, 1, 1, 1, 1, 2, 2, 3, 3)
CONTACT_LABELS = ("work", "home", "mobile", "other")


class PersonStore(EntityStore):
    kind = "person"
    not_found = "Person not found"
    columns = ("owner", "org", "emails")
    include_enum = frozenset(PERSON_INCLUDE_FIELDS)
    custom_defs = CUSTOM_FIELDS

    def __init__(self, n, owners, orgs, seed, company, tricky=True,
                 contact_sync=True, config=None):
        super().__init__(n, seed, company)
        self.owners = owners
        self.orgs = orgs
        self.generated = n
        self.contact_sync = contact_sync
        self.config = config
        self.today0 = now_s() // DAY * DAY
        self._generate_attrs(n)
        if tricky:
            for i, spec in tricky_persons().items():
                if i <= n:
                    self._install(i, spec)
        self.table.order("update_time")     # build the sort orders now so
        self.table.order("add_time")        # no request pays for them

    # ---- generation --------------------------------------------------------
    def owner_of(self, i):
        return 1 + (i - 1) % self.owners

    def org_of(self, i):
        return None if i % 7 == 0 else 1 + (i - 1) % self.orgs

    def times_of(self, i):
        s = self.seed
        if i % 50 == 3:
            upd = self.today0 - 1 - dhash(s, i, 2) % (3 * DAY)
        else:
            upd = BASE_EPOCH - 1 - dhash(s, i, 1) % (400 * DAY)
        return upd - dhash(s, i, 3) % (1000 * DAY), upd

    def email_count(self, i):
        return EMAIL_COUNTS[dhash(self.seed, i, 4) % 10]

    def _generate_attrs(self, n):
        t = self.table
        t.state[1:] = b"\x01" * n
        owner, org, em = t.cols["owner"], t.cols["org"], t.cols["emails"]
        ut, at = t.utime, t.atime
        for i in range(1, n + 1):
            owner[i] = self.owner_of(i)
            org[i] = self.org_of(i) or 0
            at[i], ut[i] = self.times_of(i)
            em[i] = self.email_count(i)

    def gen(self, i):
        """Deterministically generate the (unchanged) person i."""
        rng = random.Random(dhash(self.seed, i, 7))
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        add, upd = self.times_of(i)
        slug = ascii_slug(first) + "." + ascii_slug(last)
        emails = self._contacts(rng, self.email_count(i), lambda k: (
            "%s%d@%s" % (slug, i, ("example.com", "mail.example.org",
                                   "acme.test")[k % 3])))
        phones = self._contacts(rng, PHONE_COUNTS[rng.randrange(10)],
                                lambda k: self._phone(rng))
        p = {"id": i, "name": first + " " + last, "first_name": first,
             "last_name": last, "owner_id": self.owner_of(i),
             "org_id": self.org_of(i), "add_time": rfc3339(add),
             "update_time": rfc3339(upd), "emails": emails, "phones": phones,
             "is_deleted": False, "visible_to": rng.choice((1, 3, 3, 3, 5, 7)),
             "label_ids": sorted(rng.sample(range(1, 6), rng.choice(
                 (0, 0, 1, 1, 2)))),
             "picture_id": None if rng.random() < 0.7 else 5000 + i,
             "custom_fields": self._custom(rng)}
        p["custom_fields"].update(self._custom_more(i))
        if self.contact_sync:
            p.update(self._contact_sync(rng, i, first))
        return p

    @staticmethod
    def _contacts(rng, count, value):
        items = [{"value": value(k), "primary": False,
                  "label": rng.choice(CONTACT_LABELS)} for k in range(count)]
        if items:
            items[0 if rng.random() < 0.8 else -1]["primary"] = True
        return items

    @staticmethod
    def _phone(rng):
        d = "%07d" % rng.randrange(10000000)
        return rng.choice(("+49 30 %s" % d, "+1 (555) %s-%s" % (d[:3], d[3:]),
                           "0%s" % d, "+372 5%s" % d, "%s-%s" % (d[:3], d[3:])))

    def _custom(self, rng):
        cf = dict.fromkeys(CUSTOM_KEYS)
        nick, src, interests, budget, cdate = CUSTOM_KEYS[:5]
        if rng.random() < 0.2:
            cf[nick] = rng.choice(("Bob", "The Boss", "Ms. \"X\"", "Kiki"))
        if rng.random() < 0.3:
            cf[src] = rng.choice((11, 12, 13))
        if rng.random() < 0.2:
            cf[interests] = sorted(rng.sample((21, 22, 23), rng.randint(1, 3)))
        if rng.random() < 0.15:
            cf[budget] = {"value": rng.randrange(1, 100) * 500,
                          "currency": rng.choice(("EUR", "USD"))}
        if rng.random() < 0.15:
            cf[cdate] = "2025-%02d-%02d" % (rng.randint(1, 12),
                                            rng.randint(1, 28))
        return cf

    def _custom_more(self, i):
        """The fields of every other type, drawn from their own random
        stream so that everything generated before them stays as it was.
        Values in the v2 shapes (time and timerange as objects; see
        time_field_style for the plain-string variant)."""
        rng = random.Random(dhash(self.seed, i, 8))
        k = CUSTOM_KEY_OF_TYPE

        def maybe(p, make):
            return make() if rng.random() < p else None

        def address():
            city, area, country, pc = rng.choice(CITIES)
            num = str(rng.randint(1, 99))
            whole = "Hauptstr. %s, %s %s, %s" % (num, pc, city, country)
            return {"value": whole, "route": "Hauptstr.", "street_number": num,
                    "subpremise": rng.choice((None, "Apt 3")),
                    "locality": city, "sublocality": None,
                    "admin_area_level_1": area, "admin_area_level_2": None,
                    "country": country, "postal_code": pc,
                    "formatted_address": None if rng.random() < 0.3 else whole}

        month = rng.randint(1, 10)
        return {
            k["varchar_auto"]: maybe(0.25, lambda: rng.choice(
                ("SaaS", "Manufacturing", "Retail; wholesale"))),
            k["text"]: maybe(0.2, lambda: rng.choice(
                ("Long-time customer.\nPrefers email, not calls.",
                 "Met at the fair; knows our CTO, \"Ada\".",
                 "Ünïcödé – notes"))),
            k["double"]: maybe(0.3, lambda: rng.choice(
                (4.5, 12.0, 0.125, 99.99, 1500.0, -2.75, 7))),
            k["phone"]: maybe(0.2, lambda: "+49 30 555%04d" % rng.randrange(10000)),
            k["daterange"]: maybe(0.2, lambda: {
                "value": "2025-%02d-01" % month,
                "until": "2025-%02d-%02d" % (month + 2, rng.randint(1, 28))}),
            k["time"]: maybe(0.25, lambda: {
                "value": "%02d:%02d:00" % (rng.choice((8, 9, 13, 16)),
                                           rng.choice((0, 15, 30, 45))),
                "timezone_name": rng.choice(("Europe/Berlin",
                                             "America/New_York"))}),
            k["timerange"]: maybe(0.2, lambda: {
                "value": "09:00:00",
                "until": rng.choice(("17:00:00", "17:30:00")),
                "timezone_name": "Europe/Tallinn"}),
            k["user"]: maybe(0.3, lambda: rng.randint(1, self.owners)),
            k["org"]: maybe(0.25, lambda: rng.randint(1, self.orgs)),
            k["people"]: maybe(0.25, lambda: self.colleague_of(i, rng)),
            k["address"]: maybe(0.2, address),
        }

    def colleague_of(self, i, rng):
        """A person "referred by" i: an earlier one with the same owner and
        organization (a colleague), or None for the first ones; a recently
        updated person (i % 50 == 3) names a recently updated colleague."""
        step = self.owners * self.orgs
        if i % 50 == 3:
            step = step * 50 // math.gcd(step, 50)
        back = [i - step * t for t in (1, 2, 3) if i - step * t >= 1]
        return rng.choice(back) if back else None

    # ---- variants the spec leaves open (see Config) -------------------------
    def _view(self, i, obj, view):
        out = super()._view(i, obj, view)
        cfg = self.config
        if cfg is None:
            return out
        mode = cfg.get("label_option_ids")
        if mode != "int" and isinstance(out.get("label_ids"), list):
            out["label_ids"] = [label_id_as(x, mode, i) for x in out["label_ids"]]
            if isinstance(out.get("labels"), list):
                out["labels"] = [dict(lb, id=label_id_as(lb["id"], mode, i))
                                 for lb in out["labels"]]
        cf = out.get("custom_fields")
        if cfg.get("time_field_style") == "string" and isinstance(cf, dict):
            cf = out["custom_fields"] = dict(cf)
            t, tr = CUSTOM_KEY_OF_TYPE["time"], CUSTOM_KEY_OF_TYPE["timerange"]
            if isinstance(cf.get(t), dict):
                cf[t] = cf[t].get("value")
            if isinstance(cf.get(tr), dict):
                cf[tr] = {"value": cf[tr].get("value"),
                          "until": cf[tr].get("until")}
        if i == cfg.get("invalid_utf8_person"):
            out = with_invalid_utf8(out)
        return out

    def deleted_visible(self, q):
        """deleted_in_answers=include: updated_since and ids= answers carry
        soft-deleted persons (is_deleted true), as the real API may."""
        if self.config is None or self.config.get("deleted_in_answers") != "include":
            return False
        if q.filter_id is not None:
            return q.since is not None and self.filter_bounds_applied()
        return q.since is not None or q.ids is not None

    def filter_bounds_applied(self):
        return self.config is None or \
            self.config.get("filter_time_bounds") == "applied"

    @staticmethod
    def _contact_sync(rng, i, first):
        im = []
        if rng.random() < 0.3:
            im = [{"value": "%s.%d" % (first.lower(), i), "primary": True,
                   "label": rng.choice(("skype", "whatsapp"))}]
        addr = None
        if rng.random() < 0.3:
            city, area, country, pc = rng.choice(CITIES)
            num = str(rng.randint(1, 200))
            addr = {"value": "Main St %s, %s %s, %s" % (num, pc, city, country),
                    "country": country, "admin_area_level_1": area,
                    "admin_area_level_2": None, "locality": city,
                    "sublocality": None, "route": "Main St",
                    "street_number": num, "subpremise": None,
                    "postal_code": pc}
        return {
            "notes": (None if rng.random() < 0.6 else
                      "Met %s at the fair; follow up, re: pricing." % first),
            "im": im,
            "birthday": (None if rng.random() < 0.7 else "19%02d-%02d-%02d" % (
                rng.randint(50, 99), rng.randint(1, 12), rng.randint(1, 28))),
            "job_title": None if rng.random() < 0.4 else rng.choice(JOB_TITLES),
            "postal_address": addr,
        }

    def blank(self, i):
        t = rfc3339(now_s())
        p = {"id": i, "name": "", "first_name": "", "last_name": "",
             "owner_id": 1, "org_id": None, "add_time": t, "update_time": t,
             "emails": [], "phones": [], "is_deleted": False, "visible_to": 3,
             "label_ids": [], "picture_id": None,
             "custom_fields": dict.fromkeys(CUSTOM_KEYS)}
        if self.contact_sync:
            p.update({"notes": None, "im": [], "birthday": None,
                      "job_title": None, "postal_address": None})
        return p

    def _install(self, i, spec):
        obj = self.gen(i)
        for k, v in spec.items():
            obj[k] = v
        if not self.contact_sync:
            for k in CONTACT_SYNC_KEYS:
                obj.pop(k, None)
        self.over[i] = obj
        self.sync_attrs(i, obj)

    def sync_attrs(self, i, obj):
        super().sync_attrs(i, obj)
        self.table.cols["org"][i] = obj.get("org_id") or 0
        self.table.cols["emails"][i] = len(obj.get("emails") or ())

    def strip_keys(self):
        return () if self.contact_sync else CONTACT_SYNC_KEYS

    def label_options(self):
        return LABELS

    # ---- filters -------------------------------------------------------------
    def predicate(self, q):
        t = self.table
        # filter_time_bounds=ignored: filter_id overrides the time bounds too
        preds = self.base_predicates(
            q, times=q.filter_id is None or self.filter_bounds_applied())
        if q.filter_id is not None:
            preds.append(self.filter_predicate(q.filter_id))
        else:
            if q.org_id is not None:
                org, oid = t.cols["org"], q.org_id
                preds.append(lambda i: org[i] == oid)
            if q.deal_id is not None:
                preds.append(lambda i: False)
        if not preds:
            return None
        if len(preds) == 1:
            return preds[0]
        return lambda i: all(p(i) for p in preds)

    def filter_predicate(self, fid):
        t = self.table
        if fid == 1:
            return lambda i: True
        if fid == 2:
            owner, em = t.cols["owner"], t.cols["emails"]
            return lambda i: owner[i] == 1 and em[i] > 0
        if fid == 3:
            ut, since = t.utime, now_s() - 30 * DAY
            return lambda i: ut[i] >= since
        if fid == 4:
            return lambda i: False
        if fid == 5:
            org = t.cols["org"]
            return lambda i: org[i] == 1
        raise ApiError(400, "Filter not found")


PERSON_FILTERS = [
    (1, "All persons"),
    (2, "Owner 1 with email"),
    (3, "Updated in the last 30 days"),
    (4, "Nobody"),
    (5, "EMEA/DACH, Tier 1 (org 1)"),
]


class OrgStore(EntityStore):
    kind = "org"
    not_found = "Organization not found"
    columns = ("owner",)
    include_enum = frozenset(ORG_INCLUDE_FIELDS)
    custom_defs = ORG_CUSTOM_FIELDS

    TRICKY = ["Acme, Inc.; EMEA", "Back\\slash \"Quoted\" GmbH",
              "Rocket \U0001F680 Labs \U0001F469\U0001F3FD\u200D\U0001F4BB",
              "AC/DC Holdings", "..", "株式会社テスト", "Line\nBreak Ltd",
              "  Spaces  "]
    WORDS = ["Nordic", "Blue", "Quantum", "Alpine", "Harbor", "Summit",
             "Vertex", "Lumen", "Cedar", "Orbit"]
    SUFFIX = ["GmbH", "Ltd", "Inc.", "OÜ", "S.A.", "AB", "LLC"]

    def __init__(self, n, owners, seed, company, tricky=True):
        super().__init__(n, seed, company)
        self.owners = owners
        self.tricky = tricky
        self.table.state[1:] = b"\x01" * n
        for i in range(1, n + 1):
            self.sync_attrs(i, self.gen(i))

    def gen(self, i):
        rng = random.Random(dhash(self.seed, i, 11))
        if self.tricky and i <= len(self.TRICKY):
            name = self.TRICKY[i - 1]
        else:
            name = "%s %s %d %s" % (rng.choice(self.WORDS),
                                    rng.choice(self.WORDS), i,
                                    rng.choice(self.SUFFIX))
        upd = BASE_EPOCH - 1 - dhash(self.seed, i, 12) % (400 * DAY)
        add = upd - dhash(self.seed, i, 13) % (1000 * DAY)
        city, area, country, pc = CITIES[i % len(CITIES)]
        num = str(1 + i % 99)
        address = {"value": "%s Main St, %s %s" % (num, pc, city),
                   "country": country, "admin_area_level_1": area,
                   "admin_area_level_2": None, "locality": city,
                   "sublocality": None, "route": "Main St",
                   "street_number": num, "subpremise": None,
                   "postal_code": pc}
        if i % 5 == 0:
            address = None
        return {"id": i, "name": name, "owner_id": 1 + (i - 1) % self.owners,
                "add_time": rfc3339(add), "update_time": rfc3339(upd),
                "address": address, "is_deleted": False,
                "visible_to": (3, 7)[i % 2],
                "label_ids": [1] if i % 3 == 0 else [],
                "custom_fields": {ORG_CUSTOM_KEYS[0]: rng.choice(
                    (None, "EMEA", "APAC", "Americas")),
                    ORG_CUSTOM_KEYS[1]: rng.choice((None, 31, 32))}}

    def blank(self, i):
        t = rfc3339(now_s())
        return {"id": i, "name": "", "owner_id": 1, "add_time": t,
                "update_time": t, "address": None, "is_deleted": False,
                "visible_to": 3, "label_ids": [],
                "custom_fields": dict.fromkeys(ORG_CUSTOM_KEYS)}

    def label_options(self):
        return ORG_LABELS

    def predicate(self, q):
        if q.filter_id is not None:
            raise ApiError(400, "Filter not found")
        preds = self.base_predicates(q)
        if not preds:
            return None
        return lambda i: all(p(i) for p in preds)


# --------------------------------------------------------------------------
# tricky persons
# --------------------------------------------------------------------------

def _long_note():
    chunk = ("ASCII text, commas; semicolons \\ backslash. "
             "Zwei-Byte: äöüß é ñ. Drei-Byte: € 中文 日本語 ‘quotes’. "
             "Vier-Byte: 😀 𝄞 🏳️‍🌈 👍🏿. ")
    return (chunk * (3500 // len(chunk) + 1))[:3500]


def every_custom_field():
    """A value for every custom field, with the characters vCards escape."""
    k = CUSTOM_KEY_OF_TYPE
    return {
        CUSTOM_KEYS[0]: "The \"Boss\"; CEO, too",
        CUSTOM_KEYS[1]: 13, CUSTOM_KEYS[2]: [21, 22, 23],
        CUSTOM_KEYS[3]: {"value": 8000, "currency": "EUR"},
        CUSTOM_KEYS[4]: "2025-12-31",
        k["varchar_auto"]: "Retail; wholesale",
        k["text"]: "Line one\nLine two, with comma; semicolon \\ backslash",
        k["double"]: 1234567.25,
        k["phone"]: "+49 (0)30 123-45-67",
        k["daterange"]: {"value": "2025-01-01", "until": "2025-03-31"},
        k["time"]: {"value": "09:30:00", "timezone_name": "Europe/Berlin"},
        k["timerange"]: {"value": "09:00:00", "until": "17:30:00",
                         "timezone_name": "Europe/Tallinn"},
        k["user"]: 2, k["org"]: 1, k["people"]: 1,
        k["address"]: {
            "value": "Friedrichstraße 123, 10117 Berlin",
            "route": "Friedrichstraße", "street_number": "123",
            "subpremise": None, "locality": "Berlin", "sublocality": "Mitte",
            "admin_area_level_1": "Berlin", "admin_area_level_2": None,
            "country": "Germany", "postal_code": "10117",
            "formatted_address": "Friedrichstraße 123, 10117 Berlin, Germany"},
    }


def tricky_persons():
    """id -> dict of keys overriding the generated person (see module doc)."""
    e = lambda v, primary=True, label="work": {  # noqa: E731
        "value": v, "primary": primary, "label": label}
    long_ascii = ("Maximilian Alexander Bartholomew von und zu "
                  "Oberhausen-Rheinhausen " * 6)[:300]
    long_cjk = ("山田太郎花子東京都千代田区丸の内一丁目" * 20)[:300]
    return {
        1: {"name": "Doe, John; \"JD\" \\ Jr.: CEO", "first_name": "John",
            "last_name": "Doe, \"JD\" \\ Jr.",
            "notes": "Met at: Berlin; topics: pricing, \"SLA\", C:\\path\\x"},
        2: {"name": "Anna\nMaria Newline", "first_name": "Anna\nMaria",
            "last_name": "Newline",
            "notes": "first line\nsecond line\r\nthird line\rfourth\tcol2"},
        3: {"name": "Carriage\r\nReturn\rTab\tName", "first_name": "Carriage",
            "last_name": "Return\rTab\tName"},
        4: {"name": "AC/DC", "first_name": "AC/DC", "last_name": ""},
        5: {"name": "..", "first_name": "..", "last_name": ""},
        6: {"name": "..hidden", "first_name": "..hidden", "last_name": ""},
        7: {"name": None, "first_name": None, "last_name": None,
            "emails": [], "phones": [], "org_id": None, "label_ids": [],
            "picture_id": None, "notes": None, "im": [], "birthday": None,
            "job_title": None, "postal_address": None},
        8: {"name": "-rf --no-preserve-root", "first_name": "-rf",
            "last_name": "--no-preserve-root"},
        9: {"name": "Zoë 👩🏽‍💻 Family 👨‍👩‍👧‍👦 👍🏿 🏳️‍🌈",
            "first_name": "Zoë 👩🏽‍💻", "last_name": "Family 👨‍👩‍👧‍👦 👍🏿 🏳️‍🌈"},
        10: {"name": "山田 太郎", "first_name": "太郎", "last_name": "山田"},
        11: {"name": "محمد علي", "first_name": "محمد", "last_name": "علي"},
        12: {"name": "דוד\u200f כהן", "first_name": "דוד\u200f",
             "last_name": "כהן"},
        13: {"name": "", "first_name": "", "last_name": "",
             "emails": [e("no.name@example.com")]},
        14: {"name": "Madonna", "first_name": "Madonna", "last_name": None,
             "org_id": None},
        15: {"emails": [], "phones": [e("+49 30 1234567")]},
        16: {"phones": [e("12345"), e("12345", False, "mobile"),
                        e("+49 (0)30 123-45-67", False, "home"),
                        e("0049301234567", False, "other"),
                        e("+1-555-0100 ext. 12", False, "work")]},
        17: {"emails": [e("assist@example.com", True, "assistant"),
                        e("billing@example.com", False, "billing")],
             "phones": [e("+49 89 555 0", True, "Büro, 2. OG")]},
        18: {"im": [e("live:skype.user", True, "skype"),
                    e("+491701234567", False, "whatsapp"),
                    e("user@jabber.example.org", False, "jabber"),
                    e("@telegram_user", False, "telegram")]},
        19: {"postal_address": {"value": "Somewhere over the rainbow 1"}},
        20: {"postal_address": {
            "value": "Friedrichstraße 123, Hinterhaus, 10117 Berlin, Deutschland",
            "country": "Deutschland", "admin_area_level_1": "Berlin",
            "admin_area_level_2": "Berlin", "locality": "Berlin",
            "sublocality": "Mitte", "route": "Friedrichstraße",
            "street_number": "123", "subpremise": "Hinterhaus",
            "postal_code": "10117"}},
        21: {"birthday": "2000-12-31"},
        22: {"birthday": None, "job_title": None, "notes": None},
        23: {"notes": _long_note()},
        24: {"name": long_ascii, "first_name": "Maximilian",
             "last_name": long_ascii[len("Maximilian "):]},
        25: {"name": long_cjk, "first_name": long_cjk[:2],
             "last_name": long_cjk[2:]},
        26: {"name": "Bell\x07 Esc\x1b Del\x7f Nul\x00 Person",
             "first_name": "Bell\x07", "last_name": "Nul\x00 Person",
             "notes": "ctrl: BEL\x07 ESC\x1b[31m DEL\x7f NUL\x00 end"},
        27: {"name": "  Spacey Name  ", "first_name": "  Spacey",
             "last_name": "Name  "},
        28: {"label_ids": [1, 2, 3, 4, 5],
             "custom_fields": every_custom_field()},
        29: {"name": "John Smith", "first_name": "John", "last_name": "Smith",
             "emails": [e("john.smith@example.com")]},
        30: {"name": "John Smith", "first_name": "John", "last_name": "Smith",
             "emails": [e("jsmith@other.example")]},
        31: {"name": ".", "first_name": ".", "last_name": "",
             "emails": [e("dot-other@example.com", False, "other"),
                        e("dot@example.com", True, "work")]},
    }


# --------------------------------------------------------------------------
# runtime config, rate limiting, faults, stats
# --------------------------------------------------------------------------

class Config:
    """Runtime-changeable settings (POST /_control/config)."""

    TYPES = {"rate_limit": int, "latency_ms": int, "ratelimit_headers": bool,
             "daily_budget": int, "gzip": bool, "deleted_get": str,
             "ratelimit_reset_style": str, "retry_after_style": str,
             "daily_429_style": str,
             "label_option_ids": str, "filter_time_bounds": str,
             "deleted_in_answers": str, "time_field_style": str,
             "invalid_utf8_person": int, "create_status": str}
    CHOICES = {"deleted_get": ("soft", "404"),
               "ratelimit_reset_style": RESET_STYLES,
               "retry_after_style": RETRY_AFTER_STYLES,
               "daily_429_style": DAILY_429_STYLES,
               "label_option_ids": ("int", "string", "key"),
               "filter_time_bounds": ("applied", "ignored"),
               "deleted_in_answers": ("omit", "include"),
               "time_field_style": ("object", "string"),
               "create_status": ("200", "201")}
    # keys that change how persons are rendered (their cached JSON)
    RENDERING = ("label_option_ids", "time_field_style", "invalid_utf8_person")

    def __init__(self, args):
        self.lock = threading.Lock()
        self.values = {
            "rate_limit": args.rate_limit, "latency_ms": args.latency_ms,
            "ratelimit_headers": not args.no_ratelimit_headers,
            "daily_budget": args.daily_budget, "gzip": args.gzip,
            "deleted_get": "soft",
            "ratelimit_reset_style": args.ratelimit_reset_style,
            "retry_after_style": args.retry_after_style,
            "daily_429_style": args.daily_429_style,
            "label_option_ids": args.label_option_ids,
            "filter_time_bounds": args.filter_time_bounds,
            "deleted_in_answers": args.deleted_in_answers,
            "time_field_style": args.time_field_style,
            "invalid_utf8_person": args.invalid_utf8_person,
            "create_status": args.create_status}

    def get(self, name):
        with self.lock:
            return self.values[name]

    def snapshot(self):
        with self.lock:
            return dict(self.values)

    def update(self, body):
        for k, v in body.items():
            typ = self.TYPES.get(k)
            if typ is None or not isinstance(v, typ) or (
                    typ is int and isinstance(v, bool)):
                raise ApiError(400, "bad config key or value: %s" % k)
            if k in self.CHOICES and v not in self.CHOICES[k]:
                raise ApiError(400, "%s must be one of %s"
                               % (k, "|".join(self.CHOICES[k])))
        with self.lock:
            self.values.update(body)


class TokenState:
    def __init__(self):
        self.window = collections.deque()   # accept times within 2 s
        self.limited_until = 0.0            # end of the current 429 period
        self.strikes = 0                    # 429s inside that period
        self.blocked_until = 0.0            # Cloudflare 403 block


class RateLimiter:
    """Per-token 2 s rolling burst window, daily budget, abuse escalation."""

    WINDOW = 2.0
    STRIKES = 5
    BLOCK = 60.0

    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.tokens = collections.defaultdict(TokenState)
            self.used = 0
            self.day = int(time.time() // DAY)

    def check(self, token, cost):
        """Returns (verdict, headers); verdict in ok|burst|daily|abuse."""
        now = time.time()
        limit = self.config.get("rate_limit")
        budget = self.config.get("daily_budget")
        with self.lock:
            st = self.tokens[token]
            if now < st.blocked_until:
                return "abuse", {}
            while st.window and st.window[0] <= now - self.WINDOW:
                st.window.popleft()
            if int(now // DAY) != self.day:
                self.day, self.used = int(now // DAY), 0
            verdict, retry = "ok", 0
            if budget > 0 and budget - self.used < cost:
                verdict = "daily"
                retry = DAY - int(now) % DAY
            elif limit > 0 and len(st.window) >= limit:
                verdict = "burst"
                retry = max(1, math.ceil(st.window[0] + self.WINDOW - now))
            if verdict != "ok":
                if now < st.limited_until:
                    st.strikes += 1
                    if st.strikes > self.STRIKES:
                        st.blocked_until = now + self.BLOCK
                        st.strikes, st.limited_until = 0, 0.0
                        return "abuse", {}
                else:
                    st.strikes = 0
                st.limited_until = max(st.limited_until, now + retry)
            else:
                st.window.append(now)
                self.used += cost
            return verdict, self._headers(st, now, limit, budget, verdict,
                                          retry)

    def _headers(self, st, now, limit, budget, verdict, retry):
        h = {}
        if verdict != "ok":
            h["retry-after"] = str(retry)
        if not self.config.get("ratelimit_headers"):
            return h
        if limit > 0:
            reset = 0
            if st.window:
                reset = min(2, max(0, math.ceil(st.window[0] + self.WINDOW
                                                - now)))
            h["x-ratelimit-limit"] = str(limit)
            h["x-ratelimit-remaining"] = str(
                0 if verdict == "burst" else max(0, limit - len(st.window)))
            h["x-ratelimit-reset"] = reset_value(
                reset, now, self.config.get("ratelimit_reset_style"))
        if budget > 0 and self.config.get("daily_429_style") == "explicit":
            h["x-daily-ratelimit-token-limit"] = str(budget)
            h["x-daily-ratelimit-token-remaining"] = str(
                0 if verdict == "daily" else max(0, budget - self.used))
        return h


class Faults:
    """Injected faults (POST /_control/faults)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def set(self, rules):
        clean = []
        for r in rules:
            if not isinstance(r, dict) or str(r.get("kind")) not in FAULT_KINDS:
                raise ApiError(400, "bad fault rule: %r" % (r,))
            method = r.get("method")
            if method is not None and method not in (
                    "GET", "POST", "PATCH", "DELETE"):
                raise ApiError(400, "bad fault rule method: %r" % (method,))
            clean.append({"path": str(r.get("path", "/")),
                          "method": method,
                          "apply": bool(r.get("apply", False)),
                          "kind": str(r["kind"]),
                          "skip": int(r.get("skip", 0)),
                          "count": int(r.get("count", 1)),
                          "retry_after": r.get("retry_after"),
                          "delay_ms": int(r.get("delay_ms", 0)),
                          "fired": 0})
        with self.lock:
            self.rules = clean

    def snapshot(self):
        with self.lock:
            return [dict(r) for r in self.rules]

    def match(self, path, method="GET"):
        """The rule that fires for this request (a copy), or None."""
        with self.lock:
            for r in self.rules:
                if not path.startswith(r["path"]) or r["count"] == 0:
                    continue
                if r["method"] is not None and r["method"] != method:
                    continue
                if r["skip"] > 0:
                    r["skip"] -= 1
                    continue
                if r["count"] > 0:
                    r["count"] -= 1
                r["fired"] += 1
                return dict(r)
        return None


class Stats:
    MAX_REQUESTS = 20000

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.total = 0
            self.by_route = collections.Counter()
            self.by_status = collections.Counter()
            self.requests = collections.deque(maxlen=self.MAX_REQUESTS)

    def record(self, entry):
        with self.lock:
            self.total += 1
            self.by_route[entry["method"] + " " + entry["route"]] += 1
            self.by_status[str(entry["status"])] += 1
            self.requests.append(entry)

    def snapshot(self):
        with self.lock:
            return {"total": self.total, "by_route": dict(self.by_route),
                    "by_status": dict(self.by_status),
                    "requests": list(self.requests)}


# --------------------------------------------------------------------------
# responses
# --------------------------------------------------------------------------

class Response:
    def __init__(self, status, body, headers=None,
                 ctype="application/json", raw_bytes=False):
        self.status = status
        if not isinstance(body, bytes):
            if not isinstance(body, str):
                body = dumps(body)
            # lone surrogates (via /_control) become \udXXX; API answers
            # with raw_bytes send U+DC80..U+DCFF as the invalid bytes
            body = body.encode("utf-8", "fake_raw_bytes" if raw_bytes
                               else "backslashreplace")
        self.body = body
        self.headers = dict(headers or {})
        self.ctype = ctype


def r_error(status, message, headers=None):
    return Response(status, generic_error(message), headers)


def r_401():
    return Response(401, {"success": False, "error": "unauthorized access",
                          "errorCode": 401, "error_info": ERROR_INFO},
                    {"x-401-by-gw": "true"})


def r_403_html():
    return Response(403, CLOUDFLARE_403, {}, "text/html; charset=UTF-8")


def reset_value(seconds, now, style):
    """x-ratelimit-reset for `seconds` until the window frees, as styled."""
    if style == "epoch":
        return str(int(math.ceil(now)) + seconds)
    if style == "absurd":
        return "99999999"
    if style == "negative":
        return str(-1 - seconds)
    return str(seconds)


def retry_after_value(seconds, style):
    """Retry-After for a wait of `seconds`, as styled."""
    if style == "huge":
        return "999999"
    if style == "http-date":
        return email.utils.formatdate(time.time() + seconds, usegmt=True)
    return str(seconds)


def r_429(verdict, retry, headers=None, with_rl_headers=True,
          retry_style="seconds", daily_style="explicit"):
    """Burst ("burst") or daily-budget ("daily") 429 with retry-after."""
    h = dict(headers or {})
    h["retry-after"] = retry_after_value(int(retry), retry_style)
    if verdict == "burst":
        error = "Request over limit"
        if with_rl_headers:
            h["x-ratelimit-remaining"] = "0"
    elif daily_style == "silent":
        error = "Too many requests"
        for k in [k for k in h if k.startswith("x-daily-")]:
            del h[k]
    else:
        error = "daily request budget exceeded"
        if with_rl_headers:
            h["x-daily-ratelimit-token-remaining"] = "0"
    return Response(429, {"success": False, "error": error, "errorCode": 429},
                    h)


def list_body(texts, cursor):
    return ('{"success":true,"data":[' + ",".join(texts)
            + '],"additional_data":{"next_cursor":' + dumps(cursor) + "}}")


# --------------------------------------------------------------------------
# person search (GET /api/v2/persons/search) and the Search API burst limit
# --------------------------------------------------------------------------

SEARCH_ROUTE = "/api/v2/persons/search"
SEARCH_PARAMS = frozenset(("term", "fields", "exact_match", "organization_id",
                           "include_fields", "limit", "cursor"))
SEARCH_FIELDS = ("custom_fields", "email", "notes", "phone", "name")
SEARCH_WEIGHTS = {"name": 1.0, "email": 0.8, "phone": 0.7,
                  "custom_fields": 0.5, "notes": 0.3}
SEARCHABLE_CUSTOM_TYPES = frozenset(("address", "varchar", "text",
                                     "varchar_auto", "double", "monetary",
                                     "phone"))
SEARCH_ORG_CAP = 2000          # "upper limit of found persons" per org
_PHONE_TERM = re.compile(r"[0-9+()./ -]*[0-9][0-9+()./ -]*")


class SearchQuery:
    """Validated /persons/search parameters (also used by /_control/search,
    which ignores limit and cursor)."""

    def __init__(self, params):
        unknown = sorted(set(params) - SEARCH_PARAMS)
        if unknown:
            raise bad_request("unknown query parameter '%s'" % unknown[0])
        if "term" not in params:
            raise bad_request("parameter 'term' is required")
        self.exact = parse_bool(params, "exact_match")
        self.term = params["term"].strip()
        if len(self.term) < (1 if self.exact else 2):
            raise bad_request("parameter 'term' must be at least %d "
                              "characters" % (1 if self.exact else 2))
        self.fields = (parse_enum_list(params, "fields", SEARCH_FIELDS)
                       or list(SEARCH_FIELDS))
        self.org_id = parse_int(params, "organization_id")
        self.picture = bool(parse_enum_list(params, "include_fields",
                                            ("person.picture",)))
        self.limit = parse_int(params, "limit", 1, 500) or 100
        self.offset = 0
        if "cursor" in params:
            cur = b64url_decode(params["cursor"])
            off = cur.get("offset") if isinstance(cur, dict) else None
            if not isinstance(off, int) or isinstance(off, bool) or off < 0:
                raise bad_request("parameter 'cursor' is malformed")
            self.offset = off


def _match_kind(value, term, exact):
    """Score factor of one field value for the term: 1 equal, 0.75 at the
    start of a word, 0.5 elsewhere inside (both never with exact_match),
    0 no match; case-insensitive."""
    v, t = value.casefold(), term.casefold()
    if v == t:
        return 1.0
    if exact or t not in v:
        return 0.0
    return 0.75 if re.search(r"(?<!\w)" + re.escape(t), v) else 0.5


def _phone_kind(value, term, exact):
    kind = _match_kind(value, term, exact)
    if kind or exact or not _PHONE_TERM.fullmatch(term):
        return kind
    digits = re.sub(r"[^0-9]", "", term)            # "555 1234" ~ "5551234"
    return 0.5 if digits in re.sub(r"[^0-9]", "", value) else 0.0


def _custom_text(value, ftype):
    if ftype == "monetary" and isinstance(value, dict):
        value = value.get("value")
    elif ftype == "address" and isinstance(value, dict):
        value = value.get("value")
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    return str(value)


def search_match(store, obj, q):
    """(score, matched custom field texts, matched notes) or None."""
    score, customs, notes = 0.0, [], []

    def take(field, kind):
        nonlocal score
        score = max(score, SEARCH_WEIGHTS[field] * kind)
        return kind > 0

    for field in q.fields:
        if field == "name" and isinstance(obj.get("name"), str):
            take("name", _match_kind(obj["name"], q.term, q.exact))
        elif field in ("email", "phone"):
            kinds = _phone_kind if field == "phone" else _match_kind
            for c in obj.get(field + "s") or ():
                if isinstance(c, dict) and isinstance(c.get("value"), str):
                    take(field, kinds(c["value"], q.term, q.exact))
        elif field == "notes" and store.contact_sync \
                and isinstance(obj.get("notes"), str):
            if take("notes", _match_kind(obj["notes"], q.term, q.exact)):
                notes.append(obj["notes"])
        elif field == "custom_fields":
            cf = obj.get("custom_fields") or {}
            for code, _, ftype, _ in CUSTOM_FIELDS:
                text = _custom_text(cf.get(code), ftype)
                if ftype in SEARCHABLE_CUSTOM_TYPES and text is not None \
                        and take("custom_fields",
                                 _match_kind(text, q.term, q.exact)):
                    customs.append(text)
    return (round(score, 4), customs, notes) if score > 0 else None


def search_results(persons, q):
    """Every hit as (score, id, customs, notes), best score first, then id."""
    hits = []
    with persons.lock:
        for i in range(1, persons.table.max_id() + 1):
            if persons.table.state[i] != 1:
                continue
            if q.org_id is not None and persons.table.cols["org"][i] != q.org_id:
                continue
            m = search_match(persons, persons.get(i), q)
            if m is not None:
                hits.append((m[0], i, m[1], m[2]))
    hits.sort(key=lambda h: (-h[0], h[1]))
    return hits[:SEARCH_ORG_CAP] if q.org_id is not None else hits


def search_item(persons, orgs, hit, q):
    score, i, customs, notes = hit
    p = persons.get(i)
    org = orgs.get(p["org_id"]) if p.get("org_id") else None
    item = {"id": i, "type": "person", "name": p.get("name"),
            "phones": [c["value"] for c in p.get("phones") or ()],
            "emails": [c["value"] for c in p.get("emails") or ()],
            "visible_to": int(p.get("visible_to") or 3),
            "owner": {"id": p.get("owner_id")},
            "organization": None if org is None else {
                "id": org["id"], "name": org.get("name"),
                "address": (org.get("address") or {}).get("value")},
            "custom_fields": customs, "notes": notes}
    if q.picture:
        item["picture"] = (None if p.get("picture_id") is None
                           else {"id": p["picture_id"]})
    return {"result_score": score, "item": item}


def search_response(persons, orgs, params):
    q = SearchQuery(params)
    with persons.lock, orgs.lock:
        hits = search_results(persons, q)
        items = [search_item(persons, orgs, h, q)
                 for h in hits[q.offset:q.offset + q.limit]]
    nxt = None
    if q.offset + q.limit < len(hits):
        nxt = b64url_encode({"offset": q.offset + q.limit})
    return Response(200, {"success": True, "data": {"items": items},
                          "additional_data": {"next_cursor": nxt}})


def control_search(persons, params):
    """/_control/search: the ids the API finds, in its order, all pages."""
    q = SearchQuery({k: v for k, v in params.items()
                     if k not in ("limit", "cursor")})
    return Response(200, {"data": [h[1] for h in search_results(persons, q)]})


def install_search_config(config, args):
    """Adds the search_rate_limit switch to the runtime config."""
    config.TYPES = dict(config.TYPES, search_rate_limit=int)
    with config.lock:
        config.values["search_rate_limit"] = args.search_rate_limit


class SearchLimiter:
    """The Search API's own rolling 2 s window per token (search_rate_limit,
    default 10), checked before the general limits; a search that passes it
    is then counted like any request (general window, daily budget)."""

    WINDOW = 2.0

    def __init__(self, config):
        self.config, self.lock = config, threading.Lock()
        self.windows = collections.defaultdict(collections.deque)

    def reset(self):
        with self.lock:
            self.windows.clear()

    def check(self, token, is_search, general_check):
        """(verdict, headers) like RateLimiter.check; general_check() runs
        the general limits.  Search answers carry the search window's
        x-ratelimit-* headers instead of the general window's."""
        if not is_search:
            return general_check()
        limit = self.config.get("search_rate_limit")
        headers_on = self.config.get("ratelimit_headers")
        now = time.time()
        with self.lock:
            win = self.windows[token]
            while win and win[0] <= now - self.WINDOW:
                win.popleft()
            if limit > 0 and len(win) >= limit:
                retry = max(1, math.ceil(win[0] + self.WINDOW - now))
                h = {"retry-after": str(retry)}
                if headers_on:
                    h.update(self._headers(win, now, limit))
                return "burst", h
            verdict, h = general_check()
            if verdict == "ok":
                win.append(now)
                if headers_on and limit > 0:
                    h.update(self._headers(win, now, limit))
            return verdict, h

    def _headers(self, win, now, limit):
        reset = 0
        if win:
            reset = min(2, max(0, math.ceil(win[0] + self.WINDOW - now)))
        return {"x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": str(max(0, limit - len(win))),
                "x-ratelimit-reset": str(reset)}


# --------------------------------------------------------------------------
# the application (routing; independent of the HTTP plumbing)
# --------------------------------------------------------------------------

_PERSON_ID = re.compile(r"^/api/v2/persons/([^/]+)$")
_ORG_ID = re.compile(r"^/api/v2/organizations/([^/]+)$")


def canonical_path(path):
    """Map /v1/... to /api/v1/... and return the route pattern for stats."""
    if path.startswith("/v1/"):
        path = "/api" + path
    if path == SEARCH_ROUTE:
        return path, path
    if _PERSON_ID.match(path):
        return path, "/api/v2/persons/{id}"
    if _ORG_ID.match(path):
        return path, "/api/v2/organizations/{id}"
    return path, path


# --------------------------------------------------------------------------
# person writes: POST /api/v2/persons, PATCH and DELETE /api/v2/persons/{id}
# --------------------------------------------------------------------------

WRITABLE_PERSON_KEYS = frozenset((
    "name", "owner_id", "org_id", "emails", "phones", "visible_to",
    "label_ids", "postal_address", "notes", "im", "birthday", "job_title",
    "marketing_status", "custom_fields"))
ADDRESS_KEYS = frozenset((
    "value", "country", "admin_area_level_1", "admin_area_level_2",
    "locality", "sublocality", "route", "street_number", "subpremise",
    "postal_code"))
MARKETING_STATUSES = ("no_consent", "unsubscribed", "subscribed", "archived")
WRITE_COSTS = {("POST", "/api/v2/persons"): 5,
               ("PATCH", "/api/v2/persons/{id}"): 5,
               ("DELETE", "/api/v2/persons/{id}"): 3}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _schema_error(message):
    return bad_request(message)


def _check_contacts(key, v):
    if not isinstance(v, list):
        raise _schema_error("%s must be an array" % key)
    for item in v:
        if not isinstance(item, dict) or set(item) - {"value", "primary", "label"}:
            raise _schema_error("%s items must be {value, primary, label}" % key)
        if not isinstance(item.get("value"), str):
            raise _schema_error("%s.value must be a string" % key)
        if "primary" in item and not isinstance(item["primary"], bool):
            raise _schema_error("%s.primary must be a boolean" % key)
        if "label" in item and not isinstance(item["label"], str):
            raise _schema_error("%s.label must be a string" % key)


def label_id_from(value, mode):
    """The stored (integer) label id of a label id as a client sends it back
    under label_option_ids (the inverse of label_id_as), or None."""
    if _is_int(value):
        return value
    if isinstance(value, str):
        if value.isdigit() and mode != "key":
            return int(value)
        for k, key in LABEL_KEYS.items():
            if key == value and mode == "key":
                return k
    return None


def split_name(name):
    """first_name / last_name as this fake derives them from name (the real
    split is not documented): the first word, and the rest or null."""
    words = name.split()
    if not words:
        return "", None
    return words[0], " ".join(words[1:]) or None


class PersonWrites:
    """Validation and effects of the person write endpoints, shaped by the
    v2 spec (request bodies: addPerson / updatePerson; answers
    {"success":true,"data":<person>} and, for DELETE, {"data":{"id"}})."""

    def __init__(self, app):
        self.app = app

    def _custom(self, v):
        if not isinstance(v, dict):
            raise _schema_error("custom_fields must be an object")
        types = {c[0]: c[2] for c in CUSTOM_FIELDS}
        for k, val in v.items():
            if k not in types:
                raise _schema_error("custom field '%s' does not exist" % k)
            if types[k] == "set" and val == []:
                raise _schema_error(
                    "custom field '%s': use null to clear a set field, "
                    "not []" % k)
            if types[k] == "enum" and val is not None and not _is_int(val):
                raise _schema_error("custom field '%s' takes an option id" % k)

    def validate(self, body, creating):
        """A clean copy of body (label ids as stored), or ApiError."""
        app = self.app
        if not isinstance(body, dict):
            raise _schema_error("the request body must be a JSON object")
        allowed = WRITABLE_PERSON_KEYS | ({"add_time"} if creating else set())
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise _schema_error("'%s' is not a property of this request"
                                % unknown[0])
        if app.args.no_contact_sync and set(body) & set(CONTACT_SYNC_KEYS):
            raise ApiError(403, "contact sync is not enabled for the company")
        out = dict(body)
        if creating and not (isinstance(body.get("name"), str)
                             and body["name"].strip()):
            raise _schema_error("name is required")
        if "name" in body and not (isinstance(body["name"], str)
                                   and body["name"].strip()):
            raise _schema_error("name must be a non-empty string")
        if "owner_id" in body:
            v = body["owner_id"]
            if not _is_int(v) or not 1 <= v <= app.args.owners + 1:
                raise _schema_error("owner_id must be an existing user id")
        if "org_id" in body and body["org_id"] is not None:
            v = body["org_id"]
            if not _is_int(v) or app.orgs.get(v) is None:
                raise _schema_error("org_id must be an existing organization "
                                    "id or null")
        for k in ("emails", "phones", "im"):
            if k in body:
                _check_contacts(k, body[k])
        if "visible_to" in body and body["visible_to"] not in (1, 3, 5, 7):
            raise _schema_error("visible_to must be 1, 3, 5 or 7")
        if "label_ids" in body:
            v = body["label_ids"]
            mode = app.config.get("label_option_ids")
            ids = [label_id_from(x, mode) for x in v] if isinstance(v, list) else None
            known = {lb["id"] for lb in LABELS}
            if ids is None or any(x not in known for x in ids):
                raise _schema_error("label_ids must be ids of existing labels")
            out["label_ids"] = ids
        if "postal_address" in body and body["postal_address"] is not None:
            v = body["postal_address"]
            if not isinstance(v, dict) or set(v) - ADDRESS_KEYS or any(
                    x is not None and not isinstance(x, str) for x in v.values()):
                raise _schema_error("postal_address takes string parts: %s"
                                    % ", ".join(sorted(ADDRESS_KEYS)))
        for k in ("notes", "job_title"):
            if k in body and body[k] is not None and not isinstance(body[k], str):
                raise _schema_error("%s must be a string" % k)
        if "notes" in body and isinstance(body["notes"], str) \
                and len(body["notes"]) > 10000:
            raise _schema_error("notes: at most 10000 characters")
        if "birthday" in body and body["birthday"] is not None:
            v = body["birthday"]
            try:
                datetime.date.fromisoformat(v)
            except (TypeError, ValueError):
                raise _schema_error("birthday must be a date YYYY-MM-DD")
        if "marketing_status" in body and \
                body["marketing_status"] not in MARKETING_STATUSES:
            raise _schema_error("marketing_status must be one of %s"
                                % ", ".join(MARKETING_STATUSES))
        if "custom_fields" in body:
            self._custom(body["custom_fields"])
        if "add_time" in body and (not isinstance(body["add_time"], str) or
                                   parse_rfc3339(body["add_time"]) is None):
            raise _schema_error("add_time must be whole-second RFC3339")
        if "name" in body:
            out["first_name"], out["last_name"] = split_name(body["name"])
        return out

    def answer(self, i, status=200):
        store = self.app.persons
        with store.lock:
            text = store.render(i)
        return Response(status, '{"success":true,"data":' + text + "}",
                        raw_bytes=True)

    def create(self, body):
        clean = self.validate(body, creating=True)
        store = self.app.persons
        if "update_time" not in clean:
            clean["update_time"] = rfc3339(now_s())
        if "add_time" not in clean:
            clean["add_time"] = clean["update_time"]
        clean["custom_fields"] = dict(dict.fromkeys(CUSTOM_KEYS),
                                      **clean.get("custom_fields", {}))
        obj = store.create(clean)
        status = 201 if self.app.config.get("create_status") == "201" else 200
        return self.answer(obj["id"], status)

    def _existing(self, path):
        text = _PERSON_ID.match(path).group(1)
        if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
            raise bad_request("parameter 'id' must be an integer")
        i = int(text)
        obj = self.app.persons.get(i)
        if obj is None or obj.get("is_deleted"):
            raise ApiError(404, self.app.persons.not_found)
        return i

    def patch(self, path, body):
        i = self._existing(path)
        clean = self.validate(body, creating=False)
        self.app.persons.update(i, clean)
        return self.answer(i)

    def delete(self, path):
        i = self._existing(path)
        self.app.persons.delete(i, False)
        return Response(200, {"success": True, "data": {"id": i}})


class App:
    def __init__(self, args):
        self.args = args
        self.config = Config(args)
        self.limiter = RateLimiter(self.config)
        install_search_config(self.config, args)
        self.search_limiter = SearchLimiter(self.config)
        self.faults = Faults()
        self.stats = Stats()
        self.persons = PersonStore(args.persons, args.owners, args.orgs,
                                   args.seed, args.company,
                                   not args.no_tricky,
                                   not args.no_contact_sync, self.config)
        self.orgs = OrgStore(args.orgs, args.owners, args.seed, args.company,
                             not args.no_tricky)
        self.writes = PersonWrites(self)
        self.routes = {
            "/api/v2/persons": self.list_persons,
            "/api/v2/organizations": self.list_orgs,
            "/api/v1/users": self.users,
            "/api/v1/users/me": self.users_me,
            "/api/v1/filters": self.filters,
            "/api/v2/personFields": self.person_fields_v2,
            "/api/v1/personFields": self.person_fields_v1,
            SEARCH_ROUTE: self.search_persons,
        }

    # ---- auth & dispatch ----------------------------------------------------
    def token_of(self, headers):
        tok = headers.get("x-api-token")
        if tok is None:
            auth = headers.get("authorization") or ""
            if auth[:7].lower() == "bearer ":
                tok = auth[7:].strip()
        return tok

    def write_handler(self, method, route, raw):
        """The handler of a person write (method, route), or None."""
        if (method, route) not in WRITE_COSTS:
            return None

        def handle(cpath, params):
            if params:
                raise bad_request("unknown query parameter '%s'"
                                  % sorted(params)[0])
            body = None
            if method != "DELETE" or raw:
                try:
                    body = json.loads(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    raise bad_request("the request body is not valid JSON")
            if method == "POST":
                return self.writes.create(body)
            if method == "PATCH":
                return self.writes.patch(cpath, body)
            return self.writes.delete(cpath)
        return handle

    def handle_api(self, method, path, params, headers, raw=b""):
        """Auth, rate limits and routing for one API request."""
        token = self.token_of(headers)
        if token != self.args.token:
            return r_401()
        cpath, route = canonical_path(path)
        handler = self.routes.get(cpath)
        if handler is None and route == "/api/v2/persons/{id}":
            handler = self.get_person
        elif handler is None and route == "/api/v2/organizations/{id}":
            handler = self.get_org
        if method != "GET":
            handler = self.write_handler(method, route, raw)
        cost = (WRITE_COSTS.get((method, route), 0) if method != "GET"
                else COSTS.get(route, 0)) if handler else 0
        verdict, rl_headers = self.search_limiter.check(
            token, handler is not None and route == SEARCH_ROUTE,
            lambda: self.limiter.check(token, cost))
        if verdict == "abuse":
            return r_403_html()
        if verdict in ("burst", "daily"):
            return self.r_429(verdict, rl_headers.pop("retry-after"),
                              rl_headers)
        if handler is None:
            resp = r_error(404, "Unknown method .")
        else:
            try:
                resp = handler(cpath, params)
            except ApiError as err:
                resp = r_error(err.status, err.message)
        resp.headers.update(rl_headers)
        return resp

    def r_429(self, verdict, retry, headers=None):
        cfg = self.config.snapshot()
        return r_429(verdict, retry, headers, cfg["ratelimit_headers"],
                     cfg["retry_after_style"], cfg["daily_429_style"])

    # ---- persons / orgs -------------------------------------------------------
    def list_persons(self, path, params):
        s = self.persons
        q = ListQuery(params, PERSON_LIST_PARAMS, s.include_enum, s.custom_keys)
        texts, cursor = s.page(q)
        return Response(200, list_body(texts, cursor), raw_bytes=True)

    def list_orgs(self, path, params):
        s = self.orgs
        q = ListQuery(params, ORG_LIST_PARAMS, s.include_enum, s.custom_keys)
        texts, cursor = s.page(q)
        return Response(200, list_body(texts, cursor))

    def _get_one(self, store, regex, path, params):
        unknown = sorted(set(params) - ITEM_PARAMS)
        if unknown:
            raise bad_request("unknown query parameter '%s'" % unknown[0])
        view = ViewOptions(params, store.include_enum, store.custom_keys)
        text = regex.match(path).group(1)
        if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
            raise bad_request("parameter 'id' must be an integer")
        i = int(text)
        with store.lock:
            obj = store.get(i)
            if obj is None or (obj.get("is_deleted")
                               and self.config.get("deleted_get") == "404"):
                raise ApiError(404, store.not_found)
            body = '{"success":true,"data":' + store.render(i, view) + "}"
        return Response(200, body, raw_bytes=True)

    def get_person(self, path, params):
        return self._get_one(self.persons, _PERSON_ID, path, params)

    def get_org(self, path, params):
        return self._get_one(self.orgs, _ORG_ID, path, params)

    def search_persons(self, path, params):
        return search_response(self.persons, self.orgs, params)

    # ---- users ------------------------------------------------------------------
    def user_objects(self):
        out = []
        k = self.args.owners
        for i in range(1, k + 2):
            active = i <= k
            name = ("User %d" % i) if i > 2 else ("Alice Admin", "Bob Müller")[i - 1]
            if not active:
                name = "Dora Deactivated"
            created = BASE_EPOCH - 800 * DAY + i * 3600
            out.append({
                "id": i, "name": name, "default_currency": "EUR",
                "locale": "en_US", "lang": 1,
                "email": "user%d@%s.example.com" % (i, self.args.company),
                "phone": None if i % 2 else "+49 30 555 %04d" % i,
                "activated": active, "last_login": v1time(BASE_EPOCH - i * 3600),
                "created": v1time(created), "modified": v1time(created + DAY),
                "has_created_company": i == 1,
                "access": [{"app": "sales", "admin": i == 1,
                            "permission_set_id": str(uuid.UUID(int=i))}],
                "active_flag": active, "timezone_name": "Europe/Berlin",
                "timezone_offset": "+02:00", "role_id": 1, "icon_url": None,
                "is_you": i == 1, "is_deleted": False})
        return out

    def users(self, path, params):
        return Response(200, {"success": True, "data": self.user_objects()})

    def users_me(self, path, params):
        me = self.user_objects()[0]
        me.update({"company_id": 54235233, "company_name": "Acme Test Corp",
                   "company_domain": self.args.company,
                   "company_country": "DE",
                   "company_industry": "IT Services",
                   "language": {"language_code": "en", "country_code": "US"}})
        return Response(200, {"success": True, "data": me})

    # ---- filters ------------------------------------------------------------------
    def filters(self, path, params):
        ftype = params.get("type")
        if ftype is not None and ftype not in FILTER_TYPES:
            raise bad_request("parameter 'type' must be one of "
                              + ", ".join(FILTER_TYPES))
        data = []
        if ftype in (None, "people"):
            for fid, name in PERSON_FILTERS:
                t = v1time(BASE_EPOCH - (100 - fid) * DAY)
                data.append({"id": fid, "name": name, "filter_code": None,
                             "is_editable": True, "active_flag": True,
                             "type": "people", "temporary_flag": None,
                             "user_id": 1, "add_time": t, "update_time": t,
                             "visible_to": "7", "last_used_time": None,
                             "custom_view_id": None})
        return Response(200, {"success": True, "data": data})

    # ---- person fields ------------------------------------------------------------
    def field_defs(self):
        """(field_code, field_name, field_type, options, is_custom)."""
        std = [("name", "Name", "varchar", None),
               ("first_name", "First name", "varchar", None),
               ("last_name", "Last name", "varchar", None),
               ("email", "Email", "varchar", None),
               ("phone", "Phone", "phone", None),
               ("owner_id", "Owner", "user", None),
               ("org_id", "Organization", "org", None),
               ("label_ids", "Labels", "set", LABELS),
               ("visible_to", "Visible to", "visible_to", None),
               ("add_time", "Person created", "date", None),
               ("update_time", "Update time", "date", None),
               ("picture_id", "Profile picture", "picture", None)]
        if not self.args.no_contact_sync:
            std += [("notes", "Notes", "text", None),
                    ("im", "Instant messenger", "varchar", None),
                    ("birthday", "Birthday", "date", None),
                    ("job_title", "Job title", "varchar", None),
                    ("postal_address", "Postal address", "address", None)]
        return ([d + (False,) for d in std]
                + [d + (True,) for d in CUSTOM_FIELDS])

    def person_fields_v2(self, path, params):
        allowed = {"include_fields", "limit", "cursor"}
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise bad_request("unknown query parameter '%s'" % unknown[0])
        incl = parse_enum_list(params, "include_fields", {
            "ui_visibility", "important_fields", "required_fields",
            "combinations"})
        limit = parse_int(params, "limit", 1, 500) or 100
        start = 0
        if "cursor" in params:
            cur = b64url_decode(params["cursor"])
            off = cur.get("offset") if isinstance(cur, dict) else None
            if not isinstance(off, int) or isinstance(off, bool) or off < 0:
                raise bad_request("parameter 'cursor' is malformed")
            start = cur["offset"]
        defs = self.field_defs()
        items = []
        mode = self.config.get("label_option_ids")
        for code, name, ftype, opts, custom in defs[start:start + limit]:
            options = [dict(o) for o in opts] if opts else None
            if code == "label_ids" and options:
                # the spec: string ids for built-in fields, integers for custom
                for o in options:
                    o["id"] = label_id_as(o["id"], mode, None)
            item = {"field_name": name, "field_code": code,
                    "description": None, "field_type": ftype,
                    "options": options,
                    "subfields": None, "is_custom_field": custom,
                    "is_optional_response_field": code in CONTACT_SYNC_KEYS}
            if ftype == "monetary":
                item["subfields"] = [
                    {"field_code": code + "_currency", "field_name":
                     name + " currency", "field_type": "varchar"}]
            for f in incl:
                item[f] = {} if f != "required_fields" else {"all": False}
            items.append(item)
        nxt = None
        if start + limit < len(defs):
            nxt = b64url_encode({"offset": start + limit})
        return Response(200, {"success": True, "data": items,
                              "additional_data": {"next_cursor": nxt}})

    def person_fields_v1(self, path, params):
        start = parse_int(params, "start", 0) or 0
        limit = parse_int(params, "limit", 1, 500) or 100
        defs = self.field_defs()
        items = []
        for n, (code, name, ftype, opts, custom) in enumerate(defs):
            items.append({
                "id": 9000 + n, "key": code, "name": name, "order_nr": n,
                "field_type": ftype, "add_time": v1time(BASE_EPOCH - 500 * DAY),
                "update_time": v1time(BASE_EPOCH - 500 * DAY),
                "last_updated_by_user_id": 1, "created_by_user_id": 1,
                "active_flag": True, "edit_flag": custom,
                "index_visible_flag": True, "details_visible_flag": True,
                "add_visible_flag": True, "important_flag": False,
                "bulk_edit_allowed": True, "searchable_flag": code in (
                    "name", "email", "phone"), "filtering_allowed": True,
                "sortable_flag": True, "mandatory_flag": code == "name",
                "options": ([{"id": o["id"], "label": o["label"]}
                             for o in opts] if opts else None),
                "options_deleted": [], "is_subfield": False,
                "subfields": None})
        page = items[start:start + limit]
        more = start + limit < len(items)
        pag = {"start": start, "limit": limit,
               "more_items_in_collection": more}
        if more:
            pag["next_start"] = start + limit
        return Response(200, {"success": True, "data": page,
                              "additional_data": {"pagination": pag}})

    # ---- faults -------------------------------------------------------------------
    def fault_response(self, rule):
        """Immediate response for a fault rule, or None (for kinds that
        modify the normal response)."""
        kind = rule["kind"]
        retry = rule.get("retry_after")
        if kind == "429":
            return self.r_429("burst", retry if retry is not None else 1)
        if kind == "429-daily":
            return self.r_429("daily", retry if retry is not None
                              else DAY - now_s() % DAY)
        if kind in ("500", "502", "503"):
            msg = {"500": "Internal server error", "502": "Bad gateway",
                   "503": "Service unavailable"}[kind]
            resp = r_error(int(kind), msg)
            if retry is not None:
                resp.headers["retry-after"] = str(retry)
            return resp
        if kind == "401":
            return r_401()
        if kind == "html403":
            return r_403_html()
        if kind == "success-false":
            return Response(200, generic_error(
                "Requested service is not available"))
        return None

    # ---- control interface ----------------------------------------------------------
    def handle_control(self, method, path, params, body):
        try:
            return self._control(method, path, params, body)
        except ApiError as err:
            return Response(err.status, {"error": err.message})

    def _control(self, method, path, params, body):
        parts = path.strip("/").split("/")[1:]
        head = parts[0] if parts else ""
        arg = parts[1] if len(parts) > 1 else None
        if arg is not None and not re.fullmatch(r"[0-9]+", arg):
            if head in ("persons", "organizations"):
                raise ApiError(400, "id must be an integer")
        key = (method, head, arg is not None)
        if key == ("GET", "stats", False):
            return Response(200, self.stats.snapshot())
        if key == ("POST", "reset", False):
            self.stats.reset()
            self.faults.set([])
            self.limiter.reset()
            self.search_limiter.reset()
            return Response(200, {"ok": True})
        if key == ("GET", "faults", False):
            return Response(200, {"rules": self.faults.snapshot()})
        if key == ("POST", "faults", False):
            rules = (body or {}).get("rules")
            if not isinstance(rules, list):
                raise ApiError(400, "body must be {\"rules\": [...]}")
            self.faults.set(rules)
            return Response(200, {"rules": self.faults.snapshot()})
        if key == ("GET", "config", False):
            return Response(200, self.config.snapshot())
        if key == ("POST", "config", False):
            body = self._obj(body)
            self.config.update(body)
            if any(k in body for k in Config.RENDERING):
                with self.persons.lock:
                    self.persons.cache.clear()
            return Response(200, self.config.snapshot())
        if key == ("GET", "users", False):
            return Response(200, {"data": self.user_objects()})
        if key == ("GET", "search", False):
            return control_search(self.persons, params)
        if head in ("persons", "organizations"):
            return self._control_entity(method, head, arg, params, body)
        return Response(404, {"error": "unknown control endpoint"})

    @staticmethod
    def _obj(body):
        if not isinstance(body, dict):
            raise ApiError(400, "body must be a JSON object")
        return body

    def _control_entity(self, method, head, arg, params, body):
        store = self.persons if head == "persons" else self.orgs
        if method == "GET" and arg is None:
            allowed = {"owner_id", "org_id", "filter_id", "ids",
                       "updated_since", "updated_until"}
            if store is self.orgs:
                allowed -= {"org_id", "filter_id"}
            q = ListQuery(params, allowed, store.include_enum,
                          store.custom_keys)
            return Response(200, '{"data":[' + ",".join(
                store.all_matching(q)) + "]}")
        if method == "GET":
            obj = store.get_copy(int(arg))
            if obj is None:
                return Response(404, {"error": "not found"})
            return Response(200, obj)
        if method == "POST" and arg is None:
            return Response(200, store.create(self._obj(body)))
        if method == "POST":
            obj = store.update(int(arg), self._obj(body))
            if obj is None:
                return Response(404, {"error": "not found"})
            return Response(200, obj)
        if method == "DELETE" and arg is not None:
            permanent = params.get("permanent") in ("1", "true")
            if not store.delete(int(arg), permanent):
                return Response(404, {"error": "not found"})
            return Response(200, {"ok": True})
        return Response(404, {"error": "unknown control endpoint"})


# --------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # headers and body are separate writes
    server_version = "fake-pipedrive/1.0"

    def version_string(self):
        return self.server_version

    app = None       # set by make_server
    quiet = False

    def log_message(self, fmt, *args):
        if not self.quiet:
            sys.stderr.write("%s - %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_OPTIONS(self):
        self.dispatch("OPTIONS")

    # ---- request handling ------------------------------------------------------
    def read_body(self):
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            return self.rfile.read(int(length))
        except ValueError:
            return b""

    def dispatch(self, method):
        try:
            raw = self.read_body()
            url = urlsplit(self.path)
            params = dict(parse_qsl(url.query, keep_blank_values=True))
            if url.path == "/_control" or url.path.startswith("/_control/"):
                self.control(method, url.path, params, raw)
            else:
                self.api(method, url.path, params, raw)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception:                       # a bug: answer 500, log it
            traceback.print_exc()
            self.close_connection = True
            try:
                self.send(r_error(500, "fake server internal error"))
            except OSError:
                pass

    def control(self, method, path, params, raw):
        body = None
        if raw:
            try:
                body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.send(Response(400, {"error": "body is not JSON"}))
                return
        self.send(self.app.handle_control(method, path, params, body))

    def api(self, method, path, params, raw=b""):
        app = self.app
        headers = {k.lower(): v for k, v in self.headers.items()}
        rule = app.faults.match(path, method)
        kind = rule["kind"] if rule else None
        resp = app.fault_response(rule) if rule else None
        if kind == "slow":
            time.sleep(rule["delay_ms"] / 1000.0)
        applied = None
        if rule and rule["apply"]:
            # the request takes effect, then the fault answers (a write
            # whose answer is lost on the way back)
            applied = app.handle_api(method, path, params, headers, raw)
        if resp is None and kind != "drop":
            resp = applied or app.handle_api(method, path, params, headers, raw)
        latency = app.config.get("latency_ms")
        if latency > 0:
            time.sleep(latency / 1000.0)
        self.record(method, path, params, headers,
                    0 if kind == "drop" else resp.status, kind, raw)
        if kind == "drop":
            self.close_connection = True
            return
        if kind == "malformed":
            resp.status = 200
            resp.ctype = "application/json"
            resp.body = resp.body[:max(1, len(resp.body) // 2)]
        self.send(resp, headers.get("accept-encoding", ""), rule)

    def record(self, method, path, params, headers, status, kind, raw=b""):
        _, route = canonical_path(path)
        body = None
        if raw:
            try:
                body = json.loads(raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                body = raw.decode("utf-8", "replace")
        self.app.stats.record({
            "body": body,
            "method": method, "path": path, "query": params, "status": status,
            "t": time.time(), "route": route, "fault": kind,
            "headers": {
                "x-api-token-present": "x-api-token" in headers,
                "authorization-present": "authorization" in headers,
                "accept": headers.get("accept"),
                "accept-encoding": headers.get("accept-encoding"),
                "user-agent": headers.get("user-agent")}})

    def send(self, resp, accept_encoding="", rule=None):
        body = resp.body
        kind = rule["kind"] if rule else None
        gz = (self.app.config.get("gzip") and "gzip" in accept_encoding.lower()
              and resp.status != 204)
        if gz:
            body = gzip_mod.compress(body, 6, mtime=0)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-correlation-id", str(uuid.uuid4()))
        if gz:
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if kind == "stall":
            self.wfile.flush()
            time.sleep(rule["delay_ms"] / 1000.0)
        if kind == "cut":
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        self.wfile.write(body)
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def write_port_file(path, port):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".port.", dir=directory)
    with os.fdopen(fd, "w") as fh:
        fh.write("%d\n" % port)
    os.replace(tmp, path)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Fake Pipedrive API server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--token", default="test-token")
    p.add_argument("--persons", type=int, default=100)
    p.add_argument("--owners", type=int, default=3)
    p.add_argument("--orgs", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--company", default="acme")
    p.add_argument("--rate-limit", type=int, default=20)
    p.add_argument("--daily-budget", type=int, default=0)
    p.add_argument("--search-rate-limit", type=int, default=10)
    p.add_argument("--no-ratelimit-headers", action="store_true")
    p.add_argument("--ratelimit-reset-style", choices=RESET_STYLES,
                   default="seconds")
    p.add_argument("--retry-after-style", choices=RETRY_AFTER_STYLES,
                   default="seconds")
    p.add_argument("--daily-429-style", choices=DAILY_429_STYLES,
                   default="explicit")
    p.add_argument("--latency-ms", type=int, default=0)
    p.add_argument("--no-tricky", action="store_true")
    p.add_argument("--no-contact-sync", action="store_true")
    p.add_argument("--gzip", action="store_true")
    p.add_argument("--label-option-ids", default="int",
                   choices=Config.CHOICES["label_option_ids"])
    p.add_argument("--filter-time-bounds", default="applied",
                   choices=Config.CHOICES["filter_time_bounds"])
    p.add_argument("--deleted-in-answers", default="omit",
                   choices=Config.CHOICES["deleted_in_answers"])
    p.add_argument("--time-field-style", default="object",
                   choices=Config.CHOICES["time_field_style"])
    p.add_argument("--invalid-utf8-person", type=int, default=0)
    p.add_argument("--create-status", default="200",
                   choices=Config.CHOICES["create_status"])
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.persons < 0 or args.owners < 1 or args.orgs < 1:
        p.error("--persons must be >= 0, --owners and --orgs >= 1")
    return args


class _Stop(BaseException):
    """Raised by SIGTERM/SIGINT; a BaseException so that socketserver's
    `except Exception` around a request cannot swallow it."""


def _raise_stop(signum, frame):
    raise _Stop()


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = App(args)
    handler = type("BoundHandler", (Handler,), {"app": app,
                                                "quiet": args.quiet})
    server = Server((args.host, args.port), handler)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    sys.stderr.write("listening on %s:%d\n" % (args.host, port))
    sys.stderr.flush()
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except (_Stop, KeyboardInterrupt):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
