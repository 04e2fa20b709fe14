#!/usr/bin/env bash
# Makes the upload fixtures in tests/data/shelves from the Markdown texts in its sources/
# folder, with the tools a person would use: pandoc for HTML and EPUB, LibreOffice for the
# PDF, and an image-only PDF (a "scan") from the PDF's rendered page. The outputs are
# committed, so the tests need none of these tools; run this again after editing a text.
#   apt-get install pandoc libreoffice-writer-nogui poppler-utils && pip install fpdf2
set -euo pipefail
cd "$(dirname "$0")/../tests/data/shelves"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Markdown: uploaded as written, front matter and all.
cp sources/diggers.md diggers.md

# A web page: the article inside a site's navigation, cookie notice and footer.
cat > "$work/before.html" <<'HTML'
<header class="site"><nav><a href="/">Home</a> | <a href="/archive">Archive</a> |
<a href="/about">About us</a> | <a href="/donate">Donate</a></nav></header>
<div class="cookies">This site uses cookies to improve your experience. Accept all cookies?</div>
<main><article>
HTML
cat > "$work/after.html" <<'HTML'
</article></main>
<aside><h2>Related articles</h2><ul><li><a href="/a">Ten facts about looms</a></li>
<li><a href="/b">Subscribe to our newsletter for weekly history</a></li></ul></aside>
<footer>Copyright 2026 The History Site. All rights reserved. Privacy policy.</footer>
HTML
pandoc sources/luddites.md -s -o luddites.html \
  --include-before-body "$work/before.html" --include-after-body "$work/after.html"

# An EPUB, with its title, author and date in the OPF.
pandoc sources/aragon-collectives.md -o aragon-collectives.epub

# A PDF as an office suite writes it, title and author in its info dictionary.
pandoc sources/paris-commune.md -s -o "$work/paris-commune.odt"
soffice --headless --convert-to pdf --outdir "$work" "$work/paris-commune.odt" >/dev/null
cp "$work/paris-commune.pdf" paris-commune.pdf

# A "scanned" PDF: the same page as a picture, with no text layer.
pdftoppm -r 60 -png -f 1 -l 1 paris-commune.pdf "$work/page"
python3 - "$work" <<'PY'
import sys
from pathlib import Path

from fpdf import FPDF

work = Path(sys.argv[1])
pdf = FPDF()
pdf.add_page()
pdf.image(str(sorted(work.glob("page*.png"))[0]), x=0, y=0, w=210)
pdf.output("scanned.pdf")
PY
ls -l
