"""An independent, deliberately plain reading of G-code for the tests to compare with.

It shares no code with Mendel's front end: regular expressions over each line,
and only the words that positions and counts depend on.
"""
import math
import re

RETRACT = 0.8                                     # Settings() default, mm
_WORD = re.compile(r"([A-Za-z])\s*([-+]?(?:\d+\.?\d*|\.\d+))?")


class Independent:
    """A deliberately plain reader of the few words the counts depend on."""

    def __init__(self, path):
        self.lines = self.commands = self.arcs = 0
        self.moves = self.extrude = self.travel = 0
        self.pos = [0.0] * 4
        self.base = [0.0] * 3
        self.logical_e = 0.0
        self.absolute = self.absolute_e = True
        self.scale, self.flow, self.retracted = 1.0, 1.0, False
        self.low = {"print": [math.inf] * 3, "travel": [math.inf] * 3}
        self.high = {"print": [-math.inf] * 3, "travel": [-math.inf] * 3}
        self.heights = set()
        self.tags = {"layer_change": 0, "layer": 0}
        with open(path, "rb") as f:
            for raw in f:
                self.lines += 1
                self.line(raw.decode("utf-8", "replace"))

    def line(self, text):
        code_part = re.sub(r"\([^)]*\)", "", text)
        code_part, _semi, comment = code_part.partition(";")
        tag = comment.strip().upper()
        if tag in ("LAYER_CHANGE", "CHANGE_LAYER"):      # the whole comment
            self.tags["layer_change"] += 1
        elif tag.startswith("LAYER:") or re.match(r"LAYER \d", tag) or \
                tag.startswith("BEGIN_LAYER_OBJECT"):
            self.tags["layer"] += 1
        code_part = code_part.strip()
        if not code_part or code_part == "%":
            return
        self.commands += 1
        head = re.match(r"([A-Za-z])\s*(\d+)", code_part)
        if not head:
            return
        code = head.group(1).upper() + str(int(head.group(2)))
        words = {}
        for letter, value in _WORD.findall(code_part[head.end():]):
            words.setdefault(letter.upper(), float(value) if value else None)
        self.command(code, words)

    def command(self, code, w):
        if code in ("G90", "G91"):          # Klipper: E is relative under G91 or M83
            self.absolute = code == "G90"
        elif code in ("M82", "M83"):
            self.absolute_e = code == "M82"
        elif code in ("G20", "G21"):
            self.scale = 25.4 if code == "G20" else 1.0
        elif code == "M221" and w.get("S") is not None:
            self.flow = w["S"] / 100.0
        elif code == "G92":
            w = w or dict.fromkeys("XYZE", 0.0)
            for i, a in enumerate("XYZ"):
                if a in w:
                    self.base[i] = self.pos[i] - (w[a] or 0.0) * self.scale
            if "E" in w:
                self.logical_e = (w["E"] or 0.0) * self.scale
        elif code == "G28":
            for i, a in enumerate("XYZ"):
                if (a in w or not any(k in w for k in "XYZ")) and self.pos[i] != 0.0:
                    target = list(self.pos)
                    target[i] = 0.0
                    self.record(target, count_move=False)
                if a in w or not any(k in w for k in "XYZ"):
                    self.base[i] = 0.0
        elif code in ("G0", "G1", "G2", "G3"):
            target = list(self.pos)
            for i, a in enumerate("XYZ"):
                if w.get(a) is not None:
                    v = w[a] * self.scale
                    target[i] = v + self.base[i] if self.absolute else self.pos[i] + v
            if w.get("E") is not None:
                v = w["E"] * self.scale
                new_e = v if self.absolute and self.absolute_e else self.logical_e + v
                target[3] += (new_e - self.logical_e) * self.flow
                self.logical_e = new_e
            if code in ("G2", "G3"):
                self.arcs += 1
                self.arc(target, w, clockwise=code == "G2")
            elif target != self.pos:
                self.record(target)
        elif code == "G10" and not any(k in w for k in "PSRLXYZU") and not self.retracted:
            self.retracted = True
            self.record(self.pos[:3] + [self.pos[3] - RETRACT])
        elif code == "G11" and self.retracted:
            self.retracted = False
            self.record(self.pos[:3] + [self.pos[3] + RETRACT])

    def arc(self, target, w, clockwise):
        """Bounds of an I/J arc: its end points and the extreme points of its
        circle inside the sweep (the product's chords stay within 0.01 mm)."""
        assert w.get("R") is None, "the reference reads I/J arcs only"
        start = self.pos
        cx = start[0] + (w.get("I") or 0.0) * self.scale
        cy = start[1] + (w.get("J") or 0.0) * self.scale
        radius = math.hypot(start[0] - cx, start[1] - cy)
        a0 = math.atan2(start[1] - cy, start[0] - cx)
        a1 = math.atan2(target[1] - cy, target[0] - cx)
        sweep = (a0 - a1) % (2 * math.pi) if clockwise else (a1 - a0) % (2 * math.pi)
        if sweep < 1e-9:
            sweep = 2 * math.pi
        points = [start, target]
        for quarter in range(4):
            angle = quarter * math.pi / 2
            along = (a0 - angle) % (2 * math.pi) if clockwise else (angle - a0) % (2 * math.pi)
            if along < sweep:
                points.append([cx + radius * math.cos(angle), cy + radius * math.sin(angle),
                               target[2]])
        kind = "print" if target[3] > start[3] + 1e-9 else "travel"
        if kind == "print":
            self.heights.add(round(target[2], 4))
        for p in points if kind == "print" else points[1:]:
            for i in range(3):
                self.low[kind][i] = min(self.low[kind][i], p[i])
                self.high[kind][i] = max(self.high[kind][i], p[i])
        self.pos = target

    def record(self, target, count_move=True):
        start = self.pos
        self.moves += count_move
        kind = "print" if target[3] > start[3] + 1e-9 and any(
            abs(target[i] - start[i]) > 1e-9 for i in range(3)) else "travel"
        if kind == "print":
            self.extrude += 1
            self.heights.add(round(target[2], 4))
            points = (start, target)
        else:
            self.travel += 1
            points = (target,)
        for p in points:
            for i in range(3):
                self.low[kind][i] = min(self.low[kind][i], p[i])
                self.high[kind][i] = max(self.high[kind][i], p[i])
        self.pos = target
