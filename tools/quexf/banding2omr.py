#!/usr/bin/env python3
"""Write omr page files from a queXF banding XML (the box layout queXF keeps
for a questionnaire it printed). Used once for templates/quexf-test/; kept for
provenance and for the next queXF form an office brings.

    tools/quexf/banding2omr.py [--numbers VAR,VAR] BANDING.xml OUT_DIR

queXF coordinates are pixels of the form rendered at 300 dpi; omr's are mm.
Box groups of type 1 (tick boxes, one answer) become `grid1` rows when several
groups share a stem ("A1_A", "A1_B": a matrix), else `single` questions with a
checkbox per option. Type 3 groups are comb cells for characters or digits,
which the banding does not tell apart: a group of at most 6 cells is taken for
a number written one digit per cell (an amount, a count: "AUD $ [][][][]") and
becomes a `number` question with a `box` per cell; a longer comb (a name)
becomes a `text` field over the whole comb. `--numbers VAR,VAR` names the
number groups instead (then every other type 3 group is text; `--numbers ""`:
none). Prompts are placed left of the boxes (omr prints nothing there on a
scan; the text is for the codebook and review).
Question texts, routing and the survey file are written by hand afterwards.
"""
import sys
import xml.etree.ElementTree as ET

MM = 25.4 / 300


def mm(v):
    return round(float(v) * MM, 2)


def rect(b):
    x0, y0, x1, y1 = (float(b.findtext(k)) for k in ("tlx", "tly", "brx", "bry"))
    return "%g,%g,%g,%g" % (mm(x0), mm(y0), round((x1 - x0) * MM, 2), round((y1 - y0) * MM, 2))


MAX_NUMBER_CELLS = 6  # longer combs are names and words, not amounts


def is_number(var, n_cells, numbers):
    """A type 3 group written one digit per cell: named by --numbers, else short."""
    return var in numbers if numbers is not None else n_cells <= MAX_NUMBER_CELLS


def main(xml_path, out_dir, numbers=None):
    root = ET.parse(xml_path).getroot()
    for number, page in enumerate(root.iter("page"), 1):
        lines = ["page survey=quexf-test form=Q number=%d size=210x297" % number]
        for x, y in (("tlx", "tly"), ("trx", "try"), ("blx", "bly"), ("brx", "bry")):
            lines.append("mark at=%g,%g shape=corner size=20 line=0.4" % (mm(page.findtext(x)), mm(page.findtext(y))))
        lines.append("barcode box=136,3,56,9 kind=i25 value=%s" % page.findtext("id"))
        groups = list(page.iter("boxgroup"))
        done = set()
        for g in groups:
            var = g.findtext("varname")
            if var in done:
                continue
            boxes = list(g.iter("box"))
            label = (g.findtext("label") or "").split(" : ")
            y0 = mm(boxes[0].findtext("tly"))
            if g.findtext("type") == "1":
                stem = var.rsplit("_", 1)[0] if "_" in var else None
                rows = [h for h in groups if stem and h.findtext("varname").startswith(stem + "_")]
                if len(rows) > 1:
                    lines.append('question %s kind=grid1 label="%s"' % (stem, stem))
                    lines.append('  prompt box=15,%g,60,5 size=9 "%s"' % (y0 - 14, label[0]))
                    for b in boxes:
                        lines.append('  col %s "%s"' % (b.findtext("value"), b.findtext("label")))
                    for h in rows:
                        rid = h.findtext("varname")[len(stem) + 1:]
                        hl = (h.findtext("label") or "").split(" : ")
                        lines.append('  row %s "%s"' % (rid, hl[-1]))
                        for b in h.iter("box"):
                            lines.append("  cell row=%s col=%s box=%s" % (rid, b.findtext("value"), rect(b)))
                        done.add(h.findtext("varname"))
                    continue
                lines.append('question %s kind=single label="%s"' % (var, var))
                lines.append('  prompt box=15,%g,60,5 size=9 "%s"' % (y0, label[0]))
                for b in boxes:
                    lines.append('  option %s check=%s "%s"' % (b.findtext("value"), rect(b), b.findtext("label")))
            elif is_number(var, len(boxes), numbers):
                lines.append('question %s kind=number label="%s"' % (var, var))
                lines.append('  prompt box=30,%g,140,5 size=9 "%s"' % (y0 - 5.5, " ".join(label)))
                for k, b in enumerate(sorted(boxes, key=lambda b: float(b.findtext("tlx"))), 1):
                    lines.append("  box %d box=%s" % (k, rect(b)))
            else:
                x0 = float(boxes[0].findtext("tlx"))
                x1 = float(boxes[-1].findtext("brx"))
                y = float(boxes[0].findtext("tly"))
                h = float(boxes[0].findtext("bry")) - y
                lines.append('question %s kind=text label="%s"' % (var, var))
                lines.append('  prompt box=30,%g,140,5 size=9 "%s"' % (mm(y) - 5.5, " ".join(label)))
                lines.append("  field box=%g,%g,%g,%g" % (mm(x0), mm(y), round((x1 - x0) * MM, 2), round(h * MM, 2)))
            done.add(var)
        with open("%s/Q-%02d.page" % (out_dir, number), "w") as f:
            f.write("# Q-%02d.page -- generated by tools/quexf/banding2omr.py from queXF's test_original.xml\n" % number)
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    args = sys.argv[1:]
    numbers = None
    if len(args) == 4 and args[0] == "--numbers":
        numbers = set(v for v in args[1].split(",") if v)
        args = args[2:]
    if len(args) != 2:
        sys.exit("usage: banding2omr.py [--numbers VAR,VAR] BANDING.xml OUT_DIR")
    main(args[0], args[1], numbers)
