#!/usr/bin/env python3
"""Write an omr survey from an OMRChecker template.json (a bubble sheet that
OMRChecker reads: github.com/Udayraj123/OMRChecker). Used once for
templates/omrchecker-enigma/; kept for provenance and for the next bubble
sheet an office brings with an OMRChecker template.

    tools/omrchecker/omrchecker2omr.py --marks X0,Y0,X1,Y1 --page WxH \\
        --marker D --bubble D [--id ID --code CODE --title T] TEMPLATE.json OUT_DIR

OMRChecker's CropOnMarkers preprocessor cuts the scan at the centres of its
four corner markers and stretches that quadrilateral to pageDimensions, so a
template point (X, Y) is the fraction X / width, Y / height of the way from
the top-left marker's centre to the bottom-right one's. --marks gives those
two centres on the sheet in mm (measured once on a scan whose resolution is
known), --marker the markers' outer diameter, --bubble the printed bubbles'
diameter; `origin` + `bubbleDimensions` / 2 is a bubble's centre.

Field types: QTYPE_MCQ4 / QTYPE_MCQ5 (options A-D / A-E in a row; one
question per field label, `bubblesGap` along the row, `labelsGap` down to the
next question) become `single` questions whose options are bubbles with the
letter printed inside (codes 1, 2, ...: value labels A, B, ...); QTYPE_INT
(digits 0-9 down a column, `labelsGap` across to the next column) becomes one
`single` question per column with options 1-10 printed 0-9 (labels "0"-"9").
The survey identifies pages by order (a sheet with no barcode is one
respondent, named after its file).
"""
import argparse
import json
import os
import re

LETTERS = "ABCDEFGHIJ"


def expand(labels):
    """["q1..17"] -> ["q1", ..., "q17"] (OMRChecker's range notation)."""
    out = []
    for lab in labels:
        m = re.fullmatch(r"([A-Za-z_]*)(\d+)\.\.(\d+)", lab)
        if m:
            out += ["%s%d" % (m.group(1), i) for i in range(int(m.group(2)), int(m.group(3)) + 1)]
        else:
            out.append(lab)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--marks", required=True, help="X0,Y0,X1,Y1: top-left and bottom-right marker centres, mm")
    ap.add_argument("--page", required=True, help="WxH, mm")
    ap.add_argument("--marker", type=float, required=True, help="marker outer diameter, mm")
    ap.add_argument("--bubble", type=float, required=True, help="printed bubble diameter, mm")
    ap.add_argument("--id", default="omrchecker")
    ap.add_argument("--code", default="OMRC")
    ap.add_argument("--title", default="OMRChecker bubble sheet")
    ap.add_argument("template")
    ap.add_argument("out")
    a = ap.parse_args()
    x0, y0, x1, y1 = (float(v) for v in a.marks.split(","))
    pw, ph = (float(v) for v in a.page.split("x"))
    t = json.load(open(a.template))
    tw, th = t["pageDimensions"]
    bw, bh = t["bubbleDimensions"]

    def at(px, py):
        return x0 + px / tw * (x1 - x0), y0 + py / th * (y1 - y0)

    d = a.bubble
    lines = []
    for name, blk in t["fieldBlocks"].items():
        kind = blk["fieldType"]
        ox, oy = blk["origin"]
        gap, lgap = blk["bubblesGap"], blk["labelsGap"]
        labels = expand(blk["fieldLabels"])
        if kind.startswith("QTYPE_MCQ"):
            n = int(kind[len("QTYPE_MCQ"):])
            for qi, lab in enumerate(labels):
                lines.append('question %s kind=single label="%s"' % (lab, lab))
                # the prompt where the sheet prints the question's number, left of its row
                ax, ay = at(ox + bw / 2, oy + qi * lgap + bh / 2)
                num = re.sub(r"^[A-Za-z_]*", "", lab)
                lines.append('  prompt box=%.2f,%.2f,%.2f,%.2f size=7 right "%s"'
                             % (ax - d / 2 - 8, ay - 1.5, 6, 3, num))
                for k in range(n):
                    cx, cy = at(ox + k * gap + bw / 2, oy + qi * lgap + bh / 2)
                    lines.append('  option %d bubble=%.2f,%.2f,%.2f,%.2f print=%s "%s"'
                                 % (k + 1, cx - d / 2, cy - d / 2, d, d, LETTERS[k], LETTERS[k]))
        elif kind == "QTYPE_INT":
            for ci, lab in enumerate(labels):
                lines.append('question %s kind=single label="%s (%s)"' % (lab, name, lab))
                # the prompt over the column (where the sheet has a box for the digit written out)
                tx, ty = at(ox + ci * lgap + bw / 2, oy + bh / 2)
                lines.append('  prompt box=%.2f,%.2f,%.2f,%.2f size=6 center "%d"'
                             % (tx - d / 2, ty - d / 2 - 4, d, 3, ci + 1))
                for v in range(10):
                    cx, cy = at(ox + ci * lgap + bw / 2, oy + v * gap + bh / 2)
                    lines.append('  option %d bubble=%.2f,%.2f,%.2f,%.2f print=%d "%d"'
                                 % (v + 1, cx - d / 2, cy - d / 2, d, d, v, v))
        else:
            raise SystemExit("%s: field type %s is not converted" % (name, kind))

    os.makedirs(a.out, exist_ok=True)
    src = os.path.basename(a.template)
    with open(os.path.join(a.out, "survey.omr"), "w") as f:
        f.write("# survey.omr -- written by tools/omrchecker/omrchecker2omr.py from %s\n" % src)
        f.write('survey id=%s code=%s title="%s" identify=order\n' % (a.id, a.code, a.title))
        f.write('form S title="%s"\n' % a.title)
        f.write("page form=S number=1 file=S-01.page\n")
    with open(os.path.join(a.out, "S-01.page"), "w") as f:
        f.write("# S-01.page -- written by tools/omrchecker/omrchecker2omr.py from %s\n" % src)
        f.write("page survey=%s form=S number=1 size=%gx%g\n" % (a.id, pw, ph))
        for mx, my in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
            f.write("mark at=%.2f,%.2f shape=ring size=%g\n" % (mx, my, a.marker))
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
