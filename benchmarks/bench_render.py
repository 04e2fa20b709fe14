"""How long the worst pastes take to lay out for Discord (issue 10, item 5).

discord.py's `escape_markdown` looks ahead over the rest of the text at every mark, so a
6,000-character question of `[` and `](` took 40 s on the event loop. The renderer now clips
first and escapes in one linear pass; this prints the time per render (the target is under
10 ms) for that paste and a few other hostile ones, at 6,000 and 60,000 characters.

    python3 benchmarks/bench_render.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

from bot.answers.model import Answer
from bot.core.replies import AnswerReply, SearchReply
from bot.discord_bot.render import escape, render

PASTES = {
    "[ and ](": "[](",
    "stars": "*",
    "underscores and ticks": "_`",
    "spoilers": "||",
    "mentions": "<@1> ",
    "quote lines": "> \n",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    print(f"{'paste':<24}{'chars':>8}{'render p50 ms':>16}{'render max ms':>16}{'escape ms':>12}")
    for name, unit in PASTES.items():
        for size in (6_000, 60_000):
            text = (unit * (size // len(unit) + 1))[:size]
            answer = Answer(question=text, answered=False, text="", citations=[], passages=[])
            replies = (AnswerReply(answer=answer), SearchReply(query=text, hits=[]))
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                for reply in replies:
                    render(reply)
                times.append((time.perf_counter() - start) / len(replies) * 1000)
            start = time.perf_counter()
            escape(text)
            whole = (time.perf_counter() - start) * 1000
            print(
                f"{name:<24}{size:>8}{statistics.median(times):>16.3f}{max(times):>16.3f}"
                f"{whole:>12.3f}"
            )


if __name__ == "__main__":
    main()
