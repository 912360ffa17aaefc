"""FastMCP's own multi-server proxy over an `.mcp.json`, served on stdio.

This is what `fastmcp run .mcp.json` does (`create_proxy` on the parsed config), without the
CLI's banner and environment handling, so the benchmark's pid is the proxy itself.
Usage: python fastmcp_proxy.py PATH/.mcp.json
"""

import json
import sys

from fastmcp.server import create_proxy


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        config = json.load(f)
    create_proxy(config, name="fastmcp-proxy").run(transport="stdio", show_banner=False)


if __name__ == "__main__":
    main()
