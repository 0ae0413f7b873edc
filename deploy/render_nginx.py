"""Fill in deploy/nginx/baclofen.conf for a given set of Rasa instances.

The template's only placeholders are ${BACLOFEN_NGINX_UPSTREAMS}, ${BACLOFEN_NGINX_LISTEN}
and ${BACLOFEN_NGINX_WEB_ROOT}; compose's nginx image fills them in itself (envsubst).
Here, for everything else:

- `render_site(upstreams, listen, web_root)`: the http{}-level file, for an nginx that has
  its own nginx.conf (a VM: put it in /etc/nginx/conf.d/):

      python deploy/render_nginx.py --upstream 10.0.0.5:5005 --upstream 10.0.0.6:5005 \\
          --listen 80 --web-root /srv/baclofen/web > /etc/nginx/conf.d/baclofen.conf

- `render(upstreams, listen_port, web_root, pid_path=…, error_log=…, access_log=…,
  temp_dir=…)`: a complete nginx.conf that an unprivileged nginx (Debian's) runs in the
  foreground on loopback, every file it writes under paths you choose (tests):

      conf = render(["127.0.0.1:5005", "127.0.0.1:5006"], 18080, "/work/main/web",
                    pid_path=tmp / "nginx.pid", error_log=tmp / "error.log",
                    access_log=tmp / "access.log", temp_dir=tmp)
      (tmp / "nginx.conf").write_text(conf)
      subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(tmp / "nginx.conf"),
                        "-e", str(tmp / "error.log")])   # -e: before the config is read
      # …requests to http://127.0.0.1:18080/; stop with SIGQUIT (graceful) or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Union

TEMPLATE = Path(__file__).resolve().parent / "nginx" / "baclofen.conf"
DEBIAN_MIME_TYPES = "/etc/nginx/mime.types"
# Marked down after 2 failures for 10 s, then tried again (nginx's passive health check).
DEFAULT_SERVER_PARAMS = "max_fails=2 fail_timeout=10s"

PathLike = Union[str, "os.PathLike[str]"]

_PLACEHOLDER = re.compile(r"\$\{(BACLOFEN_NGINX_[A-Z_]+)\}")
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")
_LISTEN = re.compile(r"^(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$")
_SERVER_PARAMS = re.compile(r"^[a-z_]+=[A-Za-z0-9]+(?: [a-z_]+=[A-Za-z0-9]+)*$|^$")


def _port_ok(port: str) -> bool:
    return 1 <= int(port) <= 65535


def upstream_lines(upstreams: Sequence[str], params: str = DEFAULT_SERVER_PARAMS) -> str:
    """`server HOST:PORT params;` for each Rasa instance (at least one)."""
    if not upstreams:
        raise ValueError("at least one Rasa instance (HOST:PORT) is needed")
    if not _SERVER_PARAMS.match(params):
        raise ValueError(f"bad upstream server parameters: {params!r}")
    lines = []
    for upstream in upstreams:
        match = _HOST_PORT.match(upstream)
        if not match or not _port_ok(match.group(1)):
            raise ValueError(f"a Rasa instance must be HOST:PORT, not {upstream!r}")
        lines.append(f"server {upstream}{' ' + params if params else ''};")
    return "\n    ".join(lines)


def _path_value(path: PathLike) -> str:
    """A path as a quoted nginx string; refuses what nginx would read as syntax or a variable."""
    text = os.fspath(path)
    if not text or any(c in text for c in '"\\$\n\r;{}'):
        raise ValueError(f"unusable path for nginx: {text!r}")
    return f'"{text}"'


def fill(template: str, values: Dict[str, str]) -> str:
    """Replace every ${BACLOFEN_NGINX_X} of `template` by values[X]; all must be given."""
    missing = sorted({m.group(1) for m in _PLACEHOLDER.finditer(template)} - set(values))
    if missing:
        raise ValueError(f"no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def render_site(upstreams: Sequence[str], listen: Union[str, int], web_root: PathLike,
                server_params: str = DEFAULT_SERVER_PARAMS, template: Path = TEMPLATE) -> str:
    """The http{}-level config (upstream, map, server) for these Rasa instances."""
    listen = str(listen)
    match = _LISTEN.match(listen)
    if not match or not _port_ok(match.group(1)):
        raise ValueError(f"listen must be PORT or HOST:PORT, not {listen!r}")
    return fill(template.read_text(encoding="utf-8"), {
        "BACLOFEN_NGINX_UPSTREAMS": upstream_lines(upstreams, server_params),
        "BACLOFEN_NGINX_LISTEN": listen,
        "BACLOFEN_NGINX_WEB_ROOT": _path_value(web_root),
    })


def render(upstreams: List[str], listen_port: int, web_root: PathLike, *,
           pid_path: PathLike, error_log: PathLike, access_log: PathLike, temp_dir: PathLike,
           listen_host: str = "127.0.0.1", mime_types: PathLike = DEBIAN_MIME_TYPES,
           daemon: bool = False, server_params: str = DEFAULT_SERVER_PARAMS) -> str:
    """A complete nginx.conf serving the site on listen_host:listen_port, runnable without
    root: every file nginx writes (pid, logs, request-body and proxy buffers) is one of
    the paths given. Foreground unless `daemon`."""
    site = render_site(upstreams, f"{listen_host}:{listen_port}", web_root, server_params)
    temp = os.fspath(temp_dir).rstrip("/") or "/"
    temp_paths = "\n".join(
        f"    {kind}_temp_path {_path_value(os.path.join(temp, kind))};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    body = "\n".join(f"    {line}" if line else "" for line in site.splitlines())
    return (
        "# Generated by deploy/render_nginx.py from deploy/nginx/baclofen.conf: edit that.\n"
        f"daemon {'on' if daemon else 'off'};\n"
        "worker_processes 1;\n"
        f"pid {_path_value(pid_path)};\n"
        f"error_log {_path_value(error_log)} warn;\n"
        "events {\n    worker_connections 512;\n}\n"
        "http {\n"
        f"    include {_path_value(mime_types)};\n"
        "    default_type application/octet-stream;\n"
        f"    access_log {_path_value(access_log)};\n"
        "    sendfile on;\n"
        f"{temp_paths}\n"
        f"{body}\n"
        "}\n"
    )


def main(argv: Sequence[str] = sys.argv[1:]) -> int:
    ap = argparse.ArgumentParser(description="Print deploy/nginx/baclofen.conf filled in "
                                             "(an http{}-level file for conf.d/).")
    ap.add_argument("--upstream", action="append", required=True, metavar="HOST:PORT",
                    help="a Rasa instance; repeat for each")
    ap.add_argument("--listen", default="80", help="PORT or HOST:PORT (default 80)")
    ap.add_argument("--web-root", required=True, help="folder with index.html and widget.js")
    ap.add_argument("--server-params", default=DEFAULT_SERVER_PARAMS,
                    help=f"nginx upstream server parameters (default: {DEFAULT_SERVER_PARAMS!r})")
    args = ap.parse_args(argv)
    try:
        sys.stdout.write(render_site(args.upstream, args.listen, args.web_root, args.server_params))
    except ValueError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
