"""Round dots of one size and per-dot colours: a lean stand-in for VisPy's ``MarkersVisual``.

VisPy's markers compute a signed distance field per fragment with edges and
antialiasing, and a long vertex shader per point; software OpenGL spends
milliseconds on a few thousand of them. The neuron markers of the map and
connectivity views need none of that: a dot is a point sprite whose
fragment shader keeps the pixels inside a circle.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from vispy import gloo
from vispy.scene.visuals import create_visual_node
from vispy.visuals import Visual

__all__ = ["Dots", "DotsVisual"]

_VERTEX_SHADER = """
attribute vec3 a_position;
attribute vec4 a_color;
uniform float u_size;
varying vec4 v_color;

void main() {
    v_color = a_color;
    gl_Position = $transform(vec4(a_position, 1.0));
    gl_PointSize = u_size;
}
"""

_FRAGMENT_SHADER = """
varying vec4 v_color;

void main() {
    vec2 d = gl_PointCoord - vec2(0.5);
    if (dot(d, d) > 0.25) discard;
    gl_FragColor = v_color;
}
"""


class DotsVisual(Visual):
    """Dots of diameter ``size`` pixels at 2-D or 3-D positions, one RGBA colour each.

    Parameters
    ----------
    size : float
        Diameter in logical pixels.
    """

    def __init__(self, size: float = 5.0) -> None:
        Visual.__init__(self, vcode=_VERTEX_SHADER, fcode=_FRAGMENT_SHADER)
        self._positions = gloo.VertexBuffer(np.zeros((0, 3), np.float32))
        self._colours = gloo.VertexBuffer(np.zeros((0, 4), np.float32))
        self.shared_program["a_position"] = self._positions
        self.shared_program["a_color"] = self._colours
        self._count = 0
        self._size = float(size)
        self._bounds = np.zeros((3, 2))
        self._draw_mode = "points"
        self.set_gl_state("translucent", depth_test=False)

    @property
    def count(self) -> int:
        """Number of dots."""
        return self._count

    def set_data(self, positions: ArrayLike, colours: ArrayLike, size: float | None = None) -> None:
        """Replace the dots: ``(N, 2)`` or ``(N, 3)`` positions and one RGBA colour (or ``(N, 4)``)."""
        pos = np.asarray(positions, dtype=np.float32)
        if pos.ndim != 2 or pos.shape[1] not in (2, 3):
            raise ValueError(f"positions must have shape (N, 2) or (N, 3), got {pos.shape}")
        if pos.shape[1] == 2:
            pos = np.column_stack([pos, np.zeros(len(pos), np.float32)])
        col = np.asarray(colours, dtype=np.float32)
        col = np.broadcast_to(col.reshape(-1, 4), (len(pos), 4))
        self._count = len(pos)
        if self._count:
            self._positions.set_data(np.ascontiguousarray(pos))
            self._colours.set_data(np.ascontiguousarray(col))
            self._bounds = np.stack([pos.min(axis=0), pos.max(axis=0)], axis=1)
        if size is not None:
            self._size = float(size)
        self._bounds_changed()
        self.update()

    def _prepare_transforms(self, view: Visual) -> None:
        view.view_program.vert["transform"] = view.get_transform()

    def _prepare_draw(self, view: Visual) -> bool:
        view.view_program["u_size"] = self._size * view.transforms.pixel_scale
        return self._count > 0

    def _compute_bounds(self, axis: int, view: Visual) -> tuple[float, float] | None:
        if not self._count:
            return None
        return (float(self._bounds[axis, 0]), float(self._bounds[axis, 1]))


#: Scene-graph node of :class:`DotsVisual`.
Dots: type = create_visual_node(DotsVisual)
