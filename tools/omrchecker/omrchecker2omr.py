#!/usr/bin/env python3
"""Write an omr survey from an OMRChecker template.json (a bubble sheet that
OMRChecker reads: github.com/Udayraj123/OMRChecker). Used for
templates/omrchecker-enigma/ and templates/omrchecker-sample6/; kept for
provenance and for the next bubble sheet an office brings with an OMRChecker
template.

    tools/omrchecker/omrchecker2omr.py --marks X0,Y0,X1,Y1 --page WxH \\
        --marker D --bubble D [--label-beside BLOCK] [--single-digits BLOCK] \\
        [--id ID --code CODE --title T] TEMPLATE.json OUT_DIR
    tools/omrchecker/omrchecker2omr.py --reference IMAGE --page WxH \\
        --bubble D [--label-beside BLOCK] [--single-digits BLOCK] \\
        [--id ID --code CODE --title T] TEMPLATE.json OUT_DIR

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
it); the page gets no `mark`. omr prints nothing on such a page and its
questions need no prompt (their label names them): none is written. With
markers the prompts go over a column or left of a row, where the form heads
the field.

Field types: QTYPE_MCQ4 / QTYPE_MCQ5 (options A-D / A-E in a row; one
question per field label, `bubblesGap` along the row, `labelsGap` down to the
next question) become `single` questions whose options are bubbles with the
letter printed inside (codes 1, 2, ...: value labels A, B, ...). A block with
its own `bubbleValues` (and no fieldType) becomes one `single` question per
field label whose options 1..n are printed and labelled with the values (1 to
8 bytes: omr's limit for print=). `direction` says which way a field's
bubbles run: `vertical` down a column (fields side by side, `labelsGap`
across), `horizontal` along a row (fields one under the other); the default
is the field type's (QTYPE_INT, QTYPE_INT_FROM_1 vertical, QTYPE_MCQ
horizontal) and horizontal for custom values.

Digit columns: a block of an integer type -- QTYPE_INT (bubbles 0-9 down a
column), QTYPE_INT_FROM_1 (1-9 then 0, as OMRChecker defines it), or custom
`bubbleValues` that are all distinct single digits -- whose field labels
form a range (`roll1..7`, or `r1`, `r2`, `r3`, `r4` listed: one prefix,
consecutive numbers, 2 to 12 fields) and run vertical becomes ONE `number`
question: its ID the name customLabels gives exactly these fields (`Roll_no`),
else the labels' prefix (`roll`; a trailing `_` dropped), its
label the block's name (`Roll`), and for each field N (its column, left to
right) and bubble of value D a line `box N digit=D bubble=... print=D`. omr
exports it as one column of digits (`roll` = `0188877`, leading zeros kept)
and holds the whole number for review when a column has two bubbles marked,
a doubtful bubble, or an empty column (the question is `full`: a roll number
has its length, so a column left empty is a digit lost; and `identifier`: it
names a student, so SPSS and R read it as text and keep its leading zeros). On a page with
markers its prompt is the block's name over the columns. Such a block whose
labels are no range, whose fields run horizontal (digits along a row, the
positions one under the other), or that has more than 12 fields stays one
`single` question per field (options 1..n printed and labelled with the
values: a 0 bubble of QTYPE_INT is code 1, label "0"), as does a block named
by --single-digits BLOCK (e.g. custom values 1-5 that are a rating scale,
not digits of a number). Two blocks whose digit ranges share a prefix (one
number split over two blocks) are refused: name them --single-digits.

The survey identifies pages by order (a sheet with no barcode is one
respondent, named after its file).
"""
import argparse
import json
import os
import re
import shutil
import sys

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
    elif kind == "QTYPE_INT_FROM_1":
        # OMRChecker's FIELD_TYPES: 1 at the top, 0 last
        values, kind, default = [str(v) for v in range(1, 10)] + ["0"], "int", "vertical"
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


# omr's limit on a number's positions (OMR_NUMBER_MAX_BOXES)
NUMBER_MAX_BOXES = 12


def digit_range(labels):
    """The prefix of labels that form a range of digit positions (["roll1",
    ..., "roll7"] -> "roll": one prefix, consecutive numbers ascending, 2 to
    NUMBER_MAX_BOXES of them; a trailing "_" dropped), else None."""
    if not 2 <= len(labels) <= NUMBER_MAX_BOXES:
        return None
    parts = [re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*?)(\d+)", lab) for lab in labels]
    if not all(parts) or len({m.group(1) for m in parts}) != 1:
        return None
    nums = [int(m.group(2)) for m in parts]
    if nums != list(range(nums[0], nums[0] + len(nums))):
        return None
    prefix = parts[0].group(1).rstrip("_") or parts[0].group(1)
    return prefix if re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", prefix) else None


def custom_label(t, labels):
    """The name OMRChecker's customLabels gives exactly these fields
    ("Roll_no": ["r1", ..., "r4"]), when it can name an omr question: the
    column researchers know from OMRChecker's own output."""
    for name, parts in t.get("customLabels", {}).items():
        if expand(parts) == labels and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,22}", name):
            return name
    return None


def number_prefix(name, kind, values, direction, labels, singles):
    """The ID of the number question that block `name` becomes (its digit
    columns), or None when its fields stay single questions."""
    digits = all(len(v) == 1 and v.isdigit() for v in values) and len(set(values)) == len(values)
    if kind not in ("int", "custom") or not digits or name in singles:
        return None
    prefix = digit_range(labels)
    if kind == "int" and (prefix is None or direction != "vertical"):
        why = ("fields run horizontal (positions one under the other)" if direction != "vertical"
               else "labels %s are not a range of 2 to %d positions" % (",".join(labels), NUMBER_MAX_BOXES))
        print("%s: digit fields kept as single questions: %s" % (name, why), file=sys.stderr)
    return prefix if direction == "vertical" else None


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
    ap.add_argument("--single-digits", action="append", default=[], metavar="BLOCK",
                    help="a block of digit columns kept as one single question per field, not one number "
                         "(repeatable)")
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
    for blk in a.label_beside + a.single_digits:
        if blk not in t["fieldBlocks"]:
            ap.error("no field block %s in %s" % (blk, a.template))
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
    all_labels = {lab for blk in t["fieldBlocks"].values() for lab in expand(blk["fieldLabels"])}
    numbers = {}  # number ID -> its block
    for name, blk in t["fieldBlocks"].items():
        kind, values, direction = block_values(name, blk)
        labels = expand(blk["fieldLabels"])
        number = number_prefix(name, kind, values, direction, labels, a.single_digits)
        if number:
            number = custom_label(t, labels) or number
        if number in all_labels:
            raise SystemExit("%s: its digit fields would be number question %s, another field's label: "
                             "keep them single questions with --single-digits %s" % (name, number, name))
        if number in numbers:
            raise SystemExit("%s and %s: digit fields of one prefix %s (a number over two blocks): "
                             "keep them single questions with --single-digits" % (numbers[number], name, number))
        if number:
            numbers[number] = name
        ox, oy = blk["origin"]
        gap, lgap = blk["bubblesGap"], blk["labelsGap"]

        def centre(fi, k):
            """Centre of bubble k of field fi, mm."""
            if direction == "vertical":
                return at(ox + fi * lgap + bw / 2, oy + k * gap + bh / 2)
            return at(ox + k * gap + bw / 2, oy + fi * lgap + bh / 2)

        if number:
            # one number: the fields are its positions, left to right
            # an ID or roll number has its length: a column left empty is a
            # digit lost (omr's `full`), not a shorter number; and it names
            # someone, so SPSS and R keep its leading zeros (`identifier`)
            lines.append('question %s kind=number label="%s" identifier full' % (number, name))
            if not a.reference:
                # over the columns, where the sheet heads them
                lx, ty = centre(0, 0)
                rx = centre(len(labels) - 1, 0)[0]
                lines.append('  prompt box=%.2f,%.2f,%.2f,%.2f size=6 center "%s"'
                             % (lx - d / 2, ty - d / 2 - 4, rx - lx + d, 3, name))
            for fi in range(len(labels)):
                for k, v in enumerate(values):
                    cx, cy = centre(fi, k)
                    inside = '""' if name in a.label_beside else v
                    lines.append('  box %d digit=%s bubble=%.2f,%.2f,%.2f,%.2f print=%s'
                                 % (fi + 1, v, cx - d / 2, cy - d / 2, d, d, inside))
            continue
        for fi, lab in enumerate(labels):
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
