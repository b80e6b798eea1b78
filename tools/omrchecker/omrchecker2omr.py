#!/usr/bin/env python3
"""Write an omr survey from an OMRChecker template.json (a bubble sheet that
OMRChecker reads: github.com/Udayraj123/OMRChecker). Used once for
templates/omrchecker-enigma/; kept for provenance and for the next bubble
sheet an office brings with an OMRChecker template.

    tools/omrchecker/omrchecker2omr.py --marks X0,Y0,X1,Y1 --page WxH \\
        --marker D --bubble D [--id ID --code CODE --title T] TEMPLATE.json OUT_DIR
    tools/omrchecker/omrchecker2omr.py --reference IMAGE --page WxH \\
        --bubble D [--id ID --code CODE --title T] TEMPLATE.json OUT_DIR

templates/omrchecker-enigma/ was written by
    --marks 21.5,7.5,200.1,261.8 --page 216x273 --marker 6 --bubble 3.6
    --id omrchecker-enigma --code ENIGMA
    --title "ENIGMAZERO 200-question answer sheet (OMRChecker sample)"
templates/omrchecker-sample6/ by
    --reference reference.png --page 210x297 --bubble 3.56 --label-beside Stu
    --id omrchecker-sample6 --code SAMPLE6
    --title "NUS CS1010S exam cover sheet (OMRChecker sample6)"

OMRChecker's CropOnMarkers preprocessor cuts the scan at the centres of its
four corner markers and stretches that quadrilateral to pageDimensions, so a
template point (X, Y) is the fraction X / width, Y / height of the way from
the top-left marker's centre to the bottom-right one's. --marks gives those
two centres on the sheet in mm (measured once on a scan whose resolution is
known), --marker the markers' outer diameter, --bubble the printed bubbles'
diameter; `origin` + `bubbleDimensions` / 2 is a bubble's centre.

A sheet printed without corner markers, which OMRChecker aligns to a
reference image (its FeatureBasedAlignment preprocessor), is converted with
--reference IMAGE instead of --marks/--marker: pageDimensions are then the
reference's pixels and that image spans the page edge to edge, so a template
point (X, Y) is at X / width * W, Y / height * H mm of the --page WxH. The
image is copied into OUT_DIR and named by the page statement
(`reference=IMAGE`: omr registers the page by matching its print against
it); the page gets no `mark`. omr prints nothing on such a page, but its
loader wants every question's prompt: the prompts are written as with
markers, over a column or left of a row, where the form heads the field.

Field types: QTYPE_MCQ4 / QTYPE_MCQ5 (options A-D / A-E in a row; one
question per field label, `bubblesGap` along the row, `labelsGap` down to the
next question) become `single` questions whose options are bubbles with the
letter printed inside (codes 1, 2, ...: value labels A, B, ...); QTYPE_INT
(digits 0-9 down a column, `labelsGap` across to the next column) becomes one
`single` question per column with options 1-10 printed 0-9 (labels "0"-"9").
A block with its own `bubbleValues` (and no fieldType) becomes one `single`
question per field label whose options 1..n are printed and labelled with the
values (1 to 8 bytes: omr's limit for print=). `direction` says which way a
field's bubbles run: `vertical` down a column (fields side by side,
`labelsGap` across), `horizontal` along a row (fields one under the other);
the default is the field type's (QTYPE_INT vertical, QTYPE_MCQ horizontal)
and horizontal for custom values, as in OMRChecker.
The survey identifies pages by order (a sheet with no barcode is one
respondent, named after its file).
"""
import argparse
import json
import os
import re
import shutil

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


def block_values(name, blk):
    """A field block's (kind, values, direction): kind "mcq", "int" or
    "custom"; values the bubbles' printed texts in order; direction
    "vertical" (a field's bubbles down a column) or "horizontal"."""
    kind = blk.get("fieldType")
    if "bubbleValues" in blk and not kind:
        values, kind, default = [str(v) for v in blk["bubbleValues"]], "custom", "horizontal"
    elif kind and kind.startswith("QTYPE_MCQ"):
        values, kind, default = list(LETTERS[:int(kind[len("QTYPE_MCQ"):])]), "mcq", "horizontal"
    elif kind == "QTYPE_INT":
        values, kind, default = [str(v) for v in range(10)], "int", "vertical"
    else:
        raise SystemExit("%s: field type %s is not converted" % (name, kind or "(none, no bubbleValues)"))
    direction = blk.get("direction", default)
    if direction not in ("vertical", "horizontal"):
        raise SystemExit("%s: direction %s" % (name, direction))
    for v in values:
        # omr prints the value inside the bubble: print= takes 1 to 8 bytes
        if not 1 <= len(v.encode()) <= 8 or '"' in v or "\\" in v:
            raise SystemExit("%s: bubble value %r: 1 to 8 bytes, no quote or backslash" % (name, v))
    return kind, values, direction


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    reg = ap.add_mutually_exclusive_group(required=True)
    reg.add_argument("--marks", help="X0,Y0,X1,Y1: top-left and bottom-right marker centres, mm")
    reg.add_argument("--reference", help="image of the blank page, edge to edge (pageDimensions are its pixels): "
                                         "copied into OUT_DIR, the page registered by its print")
    ap.add_argument("--page", required=True, help="WxH, mm")
    ap.add_argument("--marker", type=float, help="marker outer diameter, mm (with --marks)")
    ap.add_argument("--bubble", type=float, required=True, help="printed bubble diameter, mm")
    ap.add_argument("--label-beside", action="append", default=[], metavar="BLOCK",
                    help="a field block whose values are printed beside its bubbles, not inside (repeatable)")
    ap.add_argument("--id", default="omrchecker")
    ap.add_argument("--code", default="OMRC")
    ap.add_argument("--title", default="OMRChecker bubble sheet")
    ap.add_argument("template")
    ap.add_argument("out")
    a = ap.parse_args()
    if a.marks and a.marker is None:
        ap.error("--marks needs --marker")
    if a.reference and a.marker is not None:
        ap.error("--marker is for --marks; a page registered by --reference has no marks")
    pw, ph = (float(v) for v in a.page.split("x"))
    t = json.load(open(a.template))
    tw, th = t["pageDimensions"]
    bw, bh = t["bubbleDimensions"]
    if a.marks:
        x0, y0, x1, y1 = (float(v) for v in a.marks.split(","))
    else:
        # the reference spans the page: its pixel (0, 0) is the page's corner
        x0, y0, x1, y1 = 0.0, 0.0, pw, ph

    def at(px, py):
        return x0 + px / tw * (x1 - x0), y0 + py / th * (y1 - y0)

    d = a.bubble
    lines = []
    for name, blk in t["fieldBlocks"].items():
        kind, values, direction = block_values(name, blk)
        ox, oy = blk["origin"]
        gap, lgap = blk["bubblesGap"], blk["labelsGap"]

        def centre(fi, k):
            """Centre of bubble k of field fi, mm."""
            if direction == "vertical":
                return at(ox + fi * lgap + bw / 2, oy + k * gap + bh / 2)
            return at(ox + k * gap + bw / 2, oy + fi * lgap + bh / 2)

        for fi, lab in enumerate(expand(blk["fieldLabels"])):
            if kind == "mcq":
                lines.append('question %s kind=single label="%s"' % (lab, lab))
            else:
                lines.append('question %s kind=single label="%s (%s)"' % (lab, name, lab))
            # on a page registered by its print omr prints nothing and a
            # question needs no prompt (its label names it)
            if a.reference:
                pass
            elif direction == "horizontal":
                # where the sheet prints the question's number, left of its row
                ax, ay = centre(fi, 0)
                num = re.sub(r"^[A-Za-z_]*", "", lab) if kind == "mcq" else lab
                lines.append('  prompt box=%.2f,%.2f,%.2f,%.2f size=7 right "%s"'
                             % (ax - d / 2 - 8, ay - 1.5, 6, 3, num))
            else:
                # over the column (where the sheet has a box for the digit written out)
                tx, ty = centre(fi, 0)
                num = "%d" % (fi + 1) if kind == "int" else lab
                lines.append('  prompt box=%.2f,%.2f,%.2f,%.2f size=6 center "%s"'
                             % (tx - d / 2, ty - d / 2 - 4, d, 3, num))
            # a block whose values are printed beside its bubbles, not inside:
            # print="" (omr reads such a bubble against paper, not a letter)
            for k, v in enumerate(values):
                cx, cy = centre(fi, k)
                inside = '""' if name in a.label_beside else v
                lines.append('  option %d bubble=%.2f,%.2f,%.2f,%.2f print=%s "%s"'
                             % (k + 1, cx - d / 2, cy - d / 2, d, d, inside, v))

    os.makedirs(a.out, exist_ok=True)
    src = os.path.basename(a.template)
    ref = ""
    if a.reference:
        ref = " reference=%s" % os.path.basename(a.reference)
        shutil.copyfile(a.reference, os.path.join(a.out, os.path.basename(a.reference)))
    with open(os.path.join(a.out, "survey.omr"), "w") as f:
        f.write("# survey.omr -- written by tools/omrchecker/omrchecker2omr.py from %s\n" % src)
        f.write('survey id=%s code=%s title="%s" identify=order\n' % (a.id, a.code, a.title))
        f.write('form S title="%s"\n' % a.title)
        f.write("page form=S number=1 file=S-01.page\n")
    with open(os.path.join(a.out, "S-01.page"), "w") as f:
        f.write("# S-01.page -- written by tools/omrchecker/omrchecker2omr.py from %s\n" % src)
        f.write("page survey=%s form=S number=1 size=%gx%g%s\n" % (a.id, pw, ph, ref))
        if a.marks:
            for mx, my in ((x0, y0), (x1, y0), (x0, y1), (x1, y1)):
                f.write("mark at=%.2f,%.2f shape=ring size=%g\n" % (mx, my, a.marker))
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
