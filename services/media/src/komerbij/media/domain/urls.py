"""Canonical article URLs: the key that makes one mention per article, however the link was decorated.

Feeds, vendors and people share the same article with tracking parameters, fragments, AMP variants and
`www.`/`amp.` hosts; all of those are the same article to the comms team.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

_TRACKING = frozenset({"fbclid", "gclid", "dclid", "msclkid", "igshid", "mc_cid", "mc_eid", "amp", "_ga"})
_AMP_CACHE = ".cdn.ampproject.org"
_DEFAULT_PORTS = {"http": 80, "https": 443}


class InvalidUrl(ValueError):
    pass


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith("utm_") or lowered in _TRACKING


def _from_amp_cache(host: str, path: str) -> str | None:
    """Google's AMP cache serves `https://<x>.cdn.ampproject.org/c/s/<host>/<path>`: the original is inside."""
    if not host.endswith(_AMP_CACHE):
        return None
    parts = path.split("/", 3)  # ['', 'c', 's', 'host/path']
    if len(parts) == 4 and parts[1] in {"c", "v"} and parts[2] == "s":
        return "https://" + parts[3]
    if len(parts) >= 3 and parts[1] in {"c", "v"}:
        return "http://" + "/".join(parts[2:])
    return None


def canonical_url(url: str) -> str:
    """The article's identity: https, lower-case host without `www.`/`amp.`, no tracking, AMP or trailing slash."""
    raw = url.strip()
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise InvalidUrl(f"not an http(s) URL: {raw[:80]!r}")
    host = parts.hostname.lower().rstrip(".")
    inner = _from_amp_cache(host, parts.path)
    if inner is not None:
        return canonical_url(inner)
    for prefix in ("www.", "amp.", "m."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
    if parts.port and parts.port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{parts.port}"
    segments = [s for s in unquote(parts.path).split("/") if s and s.lower() != "amp"]
    if segments:
        last = segments[-1]
        for suffix in (".amp.html", ".amp"):
            if last.lower().endswith(suffix):
                last = last[: -len(suffix)] + (".html" if suffix == ".amp.html" else "")
        segments[-1] = last
    path = "/" + "/".join(segments) if segments else ""
    query = sorted(
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _is_tracking(k) and not (k.lower() == "outputtype" and v.lower() == "amp")
    )
    # Both schemes point at the same article; https is what outlets serve today.
    return urlunsplit(("https", host, path, urlencode(query), ""))
