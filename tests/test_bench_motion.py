"""`mendel bench` (motion): the generated input and the figures' bookkeeping."""
import io

from mendel import config
from mendel.bench import motion as bench_motion
from mendel.gcode.reader import iter_commands


def test_generated_chords_are_short_moves_with_retracts():
    text = bench_motion.generate_chords(5000, seed=3)
    commands = list(iter_commands(io.BytesIO(text.encode())))
    moves = [c for c in commands if c.code in ("G0", "G1")]
    assert len(moves) == 5000 + 1            # plus the first layer's Z move
    chords = [c for c in moves if "X" in c.params and "E" in c.params]
    assert len(chords) > 4000
    retracts = [c for c in moves if c.params.get("E", 0) < 0]
    assert retracts and all(c.params["E"] == -0.8 for c in retracts)
    # Chords of 0.3-1.5 mm (a chord is a little shorter than its arc).
    lengths = []
    x = y = None
    for c in moves:
        if "E" in c.params and "X" in c.params and x is not None:
            lengths.append(((c.params["X"] - x) ** 2 + (c.params["Y"] - y) ** 2) ** 0.5)
        if "X" in c.params:
            x, y = c.params["X"], c.params["Y"]
    assert 0.28 < min(lengths) and max(lengths) <= 1.5 + 1e-3


def test_pipeline_and_lookahead_figures_agree(tmp_path):
    cfg = config.load()
    data = bench_motion.generate_chords(3000, seed=2).encode()
    pipeline = bench_motion.pipeline_figures(data, cfg, repeat=1)
    lookahead = bench_motion.lookahead_figures(bench_motion.recorded_moves(data), cfg,
                                               repeat=1)
    # Every move the file asks for is planned, by both planners, and printed.
    assert lookahead["planned"] == lookahead["reference_planned"] == lookahead["moves"]
    assert pipeline["moves"] == lookahead["moves"]
    assert pipeline["steps"] > 100 * pipeline["moves"] / 2
    assert pipeline["runs"] > 0 and pipeline["wire_bytes"] > 0
    assert pipeline["peak_memory_mb"] > 0
