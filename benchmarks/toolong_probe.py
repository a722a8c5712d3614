"""Runs inside a separate virtualenv with toolong (it pins an old textual). Prints JSON:
seconds to the first lines shown, seconds until the whole file is indexed, peak RSS in MB."""

import asyncio
import json
import resource
import sys
import time

from toolong.log_lines import LogLines
from toolong.ui import UI


async def main(path: str, total: int) -> None:
    start = time.perf_counter()
    app = UI([path])
    first = full = None
    async with app.run_test(size=(120, 40)) as pilot:
        while full is None and time.perf_counter() - start < 600:
            await pilot.pause(0.01)
            lines = app.query(LogLines)
            count = lines.first().line_count if lines else 0
            if first is None and count > 40:
                first = time.perf_counter() - start
            if count >= total:
                full = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"first_paint": first, "indexed": full, "peak_mb": rss}))


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
