# Mendel host: the bed mesh of a running printer.
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bed mesh at run time, as Klipper's ``[bed_mesh]`` runs it.

Suffixes: ``_mm`` millimetres, ``_mm_s`` mm/s. Positions are ``[x, y, z,
e]`` mm. "G-code coordinates" are what the file asks for, "adjusted" what
the toolhead is sent (Z plus the mesh's correction there).

* ``BED_MESH_CALIBRATE`` (:meth:`BedMesh.calibrate`) clears the mesh in use,
  then probes a grid: for each probe point (``mesh_min`` .. ``mesh_max``
  are where the *probe tip* goes) the nozzle rises to
  ``horizontal_move_z``, travels at ``speed`` to the point minus the probe's
  ``x_offset``, ``y_offset`` and probes (:class:`~mendel.probing.probe.Probe`).
  The bed's height there is the nozzle's Z at the trigger minus
  ``z_offset``; the mesh keeps it at the probe tip's X, Y, so the mesh is
  a map of the bed and is looked up at the nozzle's X, Y when moving.
  The new mesh is applied at once and saved to the profile it names
  (``default``) for SAVE_CONFIG, as Klipper does.
* Profiles: those saved in printer.cfg (``[bed_mesh NAME]``) can be loaded;
  none is loaded at start (Klipper 0.12 no longer loads ``default`` by
  itself: a PRINT_START runs ``BED_MESH_PROFILE LOAD=default``).
* Moves: :meth:`BedMesh.adjust` splits a G-code move into adjusted points
  (:class:`~mendel.probing.transform.MeshTransform`), :meth:`gcode_position`
  turns the toolhead's position back into G-code coordinates.

:class:`CheckedBedMesh` is the same command surface for ``mendel check``:
it validates and remembers profile names but probes nothing.
"""
import dataclasses
import json

from mendel.errors import CommandError
from mendel.probing import MeshError
from mendel.probing.grid import (adaptive_area, effective_algorithm, probe_points,
                                 probed_matrix, probed_rectangle)
from mendel.probing.mesh import ZMesh
from mendel.probing.output import format_output
from mendel.probing.transform import MeshTransform

DEFAULT_PROFILE = "default"


class BedMeshError(CommandError):
    """A BED_MESH_* command that cannot run; the message says why."""


@dataclasses.dataclass
class Calibration:
    """What one BED_MESH_CALIBRATE probes: ``mesh_min``/``mesh_max`` (x, y)
    mm of the probe tip, ``probe_count`` (nx, ny), the interpolation
    (``algorithm`` as configured, ``mesh_pps`` (x, y)), ``profile`` to save
    into (None: none), ``horizontal_move_z`` mm, ``probe`` keyword arguments
    for :meth:`Probe.run` and ``adaptive`` True when the area came from the
    print's objects."""
    mesh_min: tuple
    mesh_max: tuple
    probe_count: tuple
    algorithm: str
    mesh_pps: tuple
    profile: str = DEFAULT_PROFILE
    horizontal_move_z: float = 5.0
    probe: dict = dataclasses.field(default_factory=dict)
    adaptive: bool = False

    def points(self):
        """The probe tip positions in probing order, ``(n, 2)`` mm."""
        return probe_points(self.mesh_min, self.mesh_max, self.probe_count)

    def interpolation(self):
        """The algorithm the mesh will use (Klipper's fallbacks applied)."""
        return effective_algorithm(self.algorithm, self.probe_count, self.mesh_pps)


def plan(settings, overrides, objects, margin=None):
    """The :class:`Calibration` of ``[bed_mesh]`` ``settings`` (a
    BedMeshConfig) with the command's ``overrides`` (``mesh_min``,
    ``mesh_max``, ``probe_count``, ``algorithm``, ``mesh_pps``,
    ``horizontal_move_z``, ``profile``, ``probe`` as in Calibration) and,
    when ``objects`` is not None (ADAPTIVE=1), the print's object polygons
    (lists of (x, y) mm) shrinking the area (``margin`` mm, default
    ``adaptive_margin``). Raises BedMeshError."""
    if settings is None:
        raise BedMeshError("this printer has no [bed_mesh] section")
    if settings.mesh_radius is not None:
        raise BedMeshError("bed_mesh: round beds (mesh_radius) are not probed by Mendel yet")
    calibration = Calibration(
        mesh_min=tuple(overrides.get("mesh_min", settings.mesh_min)),
        mesh_max=tuple(overrides.get("mesh_max", settings.mesh_max)),
        probe_count=tuple(overrides.get("probe_count", settings.probe_count)),
        algorithm=overrides.get("algorithm", settings.algorithm),
        mesh_pps=tuple(overrides.get("mesh_pps", settings.mesh_pps)),
        profile=overrides.get("profile", DEFAULT_PROFILE),
        horizontal_move_z=overrides.get("horizontal_move_z", settings.horizontal_move_z),
        probe=dict(overrides.get("probe", {})))
    if calibration.algorithm == "direct":      # [bed_mesh] mesh_pps 0, 0
        calibration.algorithm = "lagrange"
    if objects is not None:
        area = adaptive_area(objects, settings.adaptive_margin if margin is None else margin,
                             calibration.mesh_min, calibration.mesh_max,
                             calibration.probe_count)
        if area is not None:
            calibration.mesh_min, calibration.mesh_max, calibration.probe_count = area
            calibration.adaptive = True
    try:
        calibration.points()
        calibration.interpolation()
    except MeshError as exc:
        raise BedMeshError(str(exc)) from None
    return calibration


class BedMesh:
    """The mesh of one printer: ``toolhead`` moves and probes, ``settings``
    its BedMeshConfig (or None), ``profiles`` printer.cfg's saved ones
    (name -> dict as :meth:`ZMesh.from_profile` takes), ``pending`` its
    PendingSave (or None), ``probe`` a callable returning its Probe."""

    def __init__(self, toolhead, settings, profiles, pending=None, probe=None):
        self.toolhead = toolhead
        self.settings = settings
        self.profiles = dict(profiles)
        self.pending = pending
        self._probe = probe
        self.transform = None          # MeshTransform in use, or None
        self.profile_name = None       # the profile it came from
        self._last = None              # (G-code point, adjusted point) of the last move

    # -- the mesh in use ---------------------------------------------------------

    @property
    def active(self):
        return self.transform is not None

    def set_mesh(self, mesh, name=None):
        """Apply ZMesh ``mesh`` (None: no mesh) to the moves that follow."""
        self._last = None
        if mesh is None:
            self.transform, self.profile_name = None, None
            return
        s = self.settings
        try:
            if s is None:
                self.transform = MeshTransform(mesh)
            else:
                self.transform = MeshTransform(
                    mesh, s.fade_start, s.fade_end, s.fade_target, s.zero_reference_position,
                    s.move_check_distance, s.split_delta_z)
        except MeshError as exc:
            raise BedMeshError(str(exc)) from None
        self.profile_name = name

    def clear(self):
        """BED_MESH_CLEAR: moves are no longer adjusted."""
        self.set_mesh(None)

    def adjust(self, start, end):
        """The adjusted points of the G-code move ``start`` -> ``end``; the
        last is the adjusted ``end``. Remembers the move for
        :meth:`gcode_position`."""
        points = self.transform.split(start, end)
        self._last = (list(end), list(points[-1]))
        return points

    def gcode_position(self, adjusted):
        """The G-code position of the toolhead at ``adjusted`` (mm): the last
        move's own end when the toolhead is still there, else the inverse of
        the correction (after homing, probing or a mesh change)."""
        adjusted = list(adjusted)
        if self.transform is None:
            return adjusted
        if self._last is not None and self._last[1] == adjusted:
            return list(self._last[0])
        x, y, z, e = adjusted
        return [x, y, self.transform.inverse(x, y, z), e]

    # -- profiles ---------------------------------------------------------------

    def load(self, name):
        """BED_MESH_PROFILE LOAD=name. Raises BedMeshError (Klipper's words)."""
        profile = self.profiles.get(name)
        if profile is None:
            raise BedMeshError("bed_mesh: Unknown profile [%s]" % name)
        try:
            mesh = ZMesh.from_profile(profile, name)
        except MeshError as exc:
            raise BedMeshError(str(exc)) from None
        self.set_mesh(mesh, name)

    def save(self, name):
        """BED_MESH_PROFILE SAVE=name: the mesh in use becomes profile
        ``name`` now and in printer.cfg at SAVE_CONFIG. Returns the reply."""
        if self.transform is None:
            return "Unable to save to profile [%s], the bed has not been probed" % name
        profile = self.transform.mesh.to_profile()
        self.profiles[name] = profile
        self.profile_name = name
        if self.pending is not None:
            self.pending.set_section("bed_mesh " + name, profile)
        return ("Bed Mesh state has been saved to profile [%s] for the current session. "
                "The SAVE_CONFIG command will update the printer config file." % name)

    def remove(self, name):
        """BED_MESH_PROFILE REMOVE=name; returns the reply."""
        if name not in self.profiles:
            return "No profile named [%s] to remove" % name
        del self.profiles[name]
        if self.pending is not None:
            self.pending.remove("bed_mesh " + name)
        return ("Profile [%s] removed from storage for this session. The SAVE_CONFIG "
                "command will update the printer config file." % name)

    # -- reports ----------------------------------------------------------------

    def output(self, pgp=False):
        """BED_MESH_OUTPUT text; with ``pgp`` the probe points first
        (index, nozzle position, probe tip position)."""
        if self.transform is None:
            return "Bed has not been probed"
        t = self.transform
        mesh = t.mesh
        lines = []
        if pgp:
            lines += self._probe_points_text(mesh)
        fade = (t.fade_start, t.fade_end, t.fade_target) if t.fading else None
        lines.append(format_output(mesh, profile=self.profile_name, fade=fade))
        return "\n".join(lines)

    def _probe_points_text(self, mesh):
        x_offset, y_offset = self._offsets()
        xs, ys = mesh.probe_coordinates()
        lines = ["Generated Points", "Index | Tool Adjusted | Probe"]
        index = 0
        for row, y in enumerate(ys):
            for x in (xs if row % 2 == 0 else xs[::-1]):
                lines.append("%d | (%.1f, %.1f) | (%.1f, %.1f)"
                             % (index, x - x_offset, y - y_offset, x, y))
                index += 1
        return lines

    def map_json(self):
        """BED_MESH_MAP: ``mesh_map_output {json}`` (probed rows by Y)."""
        if self.transform is None:
            return "Bed has not been probed"
        (min_x, min_y), (max_x, max_y) = self.transform.mesh.bounds
        return "mesh_map_output " + json.dumps({
            "mesh_min": [min_x, min_y], "mesh_max": [max_x, max_y],
            "z_positions": self.transform.mesh.probed.tolist()})

    # -- probing ----------------------------------------------------------------

    def _offsets(self):
        probe = self.toolhead.config.probe
        return (probe.x_offset, probe.y_offset) if probe is not None else (0.0, 0.0)

    def calibrate(self, calibration, respond=None):
        """BED_MESH_CALIBRATE as ``calibration`` plans it: probe, apply,
        save to its profile. ``respond(text)`` gets the probe reports.
        Returns the final reply. Raises BedMeshError, ProbeError."""
        self.clear()
        probe = self._probe()
        x_offset, y_offset, z_offset = probe.offsets
        travel_z = calibration.horizontal_move_z
        lift_speed = probe.config.lift_speed
        speed = self.settings.speed
        points = calibration.points()
        heights = []
        for px, py in points.tolist():
            self._travel_to(px - x_offset, py - y_offset, travel_z, speed, lift_speed)
            _x, _y, z = probe.run(report=respond, **calibration.probe)
            heights.append(z - z_offset)
        self._raise_to(travel_z, lift_speed)
        low, high = probed_rectangle(calibration.mesh_min, calibration.mesh_max,
                                     calibration.probe_count)
        try:
            mesh = ZMesh(probed_matrix(points, heights, calibration.probe_count), low, high,
                         calibration.mesh_pps, calibration.interpolation(),
                         self.settings.bicubic_tension)
        except MeshError as exc:
            raise BedMeshError(str(exc)) from None
        self.set_mesh(mesh, None)
        reply = "Mesh Bed Leveling Complete"
        if calibration.profile:
            reply += "\n" + self.save(calibration.profile)
        return reply

    def _travel_to(self, x, y, z, speed, lift_speed):
        """Raise to ``z`` (if lower) at ``lift_speed``, then travel to ``x``,
        ``y`` at ``speed``: the moves between probe points."""
        self._raise_to(z, lift_speed)
        target = list(self.toolhead.position)
        target[0], target[1] = x, y
        self.toolhead.move(target, speed)

    def _raise_to(self, z, speed):
        target = list(self.toolhead.position)
        if target[2] < z:
            target[2] = z
            self.toolhead.move(target, speed)


class CheckedBedMesh:
    """BED_MESH_* for ``mendel check``: the arguments are checked against
    ``settings`` (a BedMeshConfig or None) as the printer would, nothing is
    probed; profile names are followed (a LOAD of a profile neither saved
    in printer.cfg nor calibrated earlier in the file is an error)."""

    active = False

    def __init__(self, settings, profiles):
        self.settings = settings
        self.profiles = set(profiles)

    def calibrate(self, calibration, respond=None):
        if calibration.profile:
            self.profiles.add(calibration.profile)
        return ""

    def load(self, name):
        if name not in self.profiles:
            raise BedMeshError("bed_mesh: Unknown profile [%s]" % name)

    def save(self, name):
        self.profiles.add(name)
        return ""

    def remove(self, name):
        self.profiles.discard(name)
        return ""

    def clear(self):
        pass

    def output(self, pgp=False):
        return ""

    def map_json(self):
        return ""
