"""Synapses between and within two square neuron layers, drawn as GL lines.

:class:`SynapseLinesVisual` draws tens of thousands of synapses cheaply:
each vertex carries only ``(pre id, post id, t, weight)``. The vertex shader
turns neuron ids into grid positions (``x = id % n``, ``y = id // n``), places
the presynaptic end at the periodic image nearest the postsynaptic neuron,
interpolates along the synapse by ``t`` (lifting it into an arc when asked)
and looks up the colour of the weight in a colormap texture; the fragment
shader only writes that colour. Lines are opaque and depth-tested (faded
lines are mixed with the background colour instead of blended), which lets
software renderers skip hidden fragments early: with Mesa's llvmpipe this
draws dense synapse tables about 1.6 times faster than blending. Per frame
only that vertex array is uploaded; positions of the neurons are never sent.

:class:`LayerPlanesVisual` draws the two layers themselves: an outline per
plane, a marker per neuron and rings round picked neurons.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from vispy import gloo
from vispy.color import get_colormap
from vispy.scene.visuals import create_visual_node
from vispy.visuals import CompoundVisual, LineVisual, MarkersVisual, Visual

from gui.visuals import raster
from gui.visuals.dots import DotsVisual

__all__ = [
    "LayerPlanes",
    "LayerPlanesVisual",
    "RasterSynapseLayer",
    "SynapseLines",
    "SynapseLinesVisual",
    "SynapseStyle",
    "colormap_lut",
]

RGBA = tuple[float, float, float, float]

#: Entries of the colormap lookup textures.
LUT_SIZE = 256

_VERTEX_SHADER = """
attribute vec4 a_synapse;  // pre id, post id, t along the synapse (0 at pre, 1 at post), weight
uniform float u_side;
uniform float u_z_pre;
uniform float u_z_post;
uniform float u_arc;
uniform float u_periodic;
uniform vec2 u_clim;
uniform sampler2D u_lut;
uniform float u_alpha;
uniform vec3 u_background;
uniform float u_lut_size;
varying vec4 v_color;

vec3 grid_point(float id, float z) {
    float row = floor((id + 0.5) / u_side);
    return vec3(id - row * u_side, row, z);
}

void main() {
    vec3 post = grid_point(a_synapse.y, u_z_post);
    vec3 pre = grid_point(a_synapse.x, u_z_pre);
    if (u_periodic > 0.5) {
        vec2 d = pre.xy - post.xy;
        pre.xy = post.xy + d - u_side * floor(d / u_side + 0.5);
    }
    float t = a_synapse.z;
    vec3 p = mix(pre, post, t);
    p.z += u_arc * 4.0 * t * (1.0 - t) * length(post.xy - pre.xy);
    float value = clamp((a_synapse.w - u_clim.x) / max(u_clim.y - u_clim.x, 1e-12), 0.0, 1.0);
    vec4 c = texture2D(u_lut, vec2((value * (u_lut_size - 1.0) + 0.5) / u_lut_size, 0.5));
    v_color = vec4(mix(u_background, c.rgb, u_alpha), 1.0);
    gl_Position = $transform(vec4(p, 1.0));
}
"""

_FRAGMENT_SHADER = """
varying vec4 v_color;

void main() {
    gl_FragColor = v_color;
}
"""


def colormap_lut(colormap: str | ArrayLike, size: int = LUT_SIZE) -> NDArray[np.float32]:
    """Return ``size`` RGBA colours (float32, ``(size, 4)``) of a colormap from low to high.

    Parameters
    ----------
    colormap : str or array_like
        A VisPy colormap name (``"viridis"``), or a sequence of RGBA colours
        that is interpolated linearly (one colour gives a constant map).
    size : int
        Number of entries.
    """
    t = np.linspace(0.0, 1.0, size)
    if isinstance(colormap, str):
        return np.ascontiguousarray(get_colormap(colormap).map(t), dtype=np.float32)
    stops = np.atleast_2d(np.asarray(colormap, dtype=np.float64))
    if stops.ndim != 2 or stops.shape[1] != 4:
        raise ValueError(f"colours must be RGBA rows, got shape {stops.shape}")
    if len(stops) == 1:
        return np.repeat(stops, size, axis=0).astype(np.float32)
    knots = np.linspace(0.0, 1.0, len(stops))
    return np.stack([np.interp(t, knots, stops[:, c]) for c in range(4)], axis=1).astype(np.float32)


class SynapseStyle:
    """Geometry, colours and data of a synapse table drawn as lines (shared by both renderers).

    Neuron ``id`` of a layer sits at ``(id % n, id // n, z)`` with ``z`` the
    layer's height. By default every synapse is drawn from its presynaptic
    neuron's periodic image nearest the postsynaptic neuron (so synapses of
    neighbours across the torus wrap stay short) to the postsynaptic neuron.

    Parameters
    ----------
    side : int
        Grid side n of both layers.
    z_pre, z_post : float
        Heights of the presynaptic and postsynaptic layers.
    arc : float
        Height of the arc over the straight line, relative to the synapse's
        length in the grid plane (0 draws straight lines).
    colormap : str or array_like
        Colormap by weight (see :func:`colormap_lut`).
    clim : (float, float)
        Weights mapped to the low and high ends of the colormap.
    alpha : float
        Opacity of every line against ``background``: the colour drawn is
        ``alpha * colour + (1 - alpha) * background``, without blending.
    background : (float, float, float)
        RGB of the canvas background (in [0, 1]).
    periodic : bool
        Draw to the presynaptic neuron's periodic image nearest the
        postsynaptic neuron (False: to the neuron itself).
    """

    def _init_style(
        self,
        side: int = 16,
        z_pre: float = 0.0,
        z_post: float = 1.0,
        arc: float = 0.0,
        colormap: str | ArrayLike = "viridis",
        clim: tuple[float, float] = (0.0, 1.0),
        alpha: float = 1.0,
        background: tuple[float, float, float] = (0.0, 0.0, 0.0),
        periodic: bool = True,
    ) -> None:
        """Set every style value and clear the data (renderers call this once their hooks work)."""
        self._count = 0
        self._vertices = np.zeros((0, 4), np.float32)
        self._periodic = bool(periodic)
        self._set_uniform("u_periodic", 1.0 if periodic else 0.0)
        self.background = background
        self.side = side
        self.set_layers(z_pre, z_post, arc)
        self.colormap = colormap
        self.clim = clim
        self.alpha = alpha

    # -- hooks of the renderer --------------------------------------------------------------------
    def _set_uniform(self, name: str, value: object) -> None:
        """Pass a style value to the renderer (the OpenGL program's uniform ``name``)."""

    def _set_lut(self, lut: NDArray[np.float32]) -> None:
        """Pass the colour lookup table to the renderer."""

    def _set_vertices(self, vertices: NDArray[np.float32]) -> None:
        """Pass a new vertex array to the renderer."""

    def _changed(self, bounds: bool = False) -> None:
        """Something drawn changed (``bounds``: the extent too)."""

    # -- properties -------------------------------------------------------------------------------
    @property
    def side(self) -> int:
        """Grid side n of both layers."""
        return self._side

    @side.setter
    def side(self, side: int) -> None:
        if side < 1:
            raise ValueError(f"side must be positive, got {side}")
        self._side = int(side)
        self._set_uniform("u_side", float(side))
        self._changed(bounds=True)

    def set_layers(self, z_pre: float, z_post: float, arc: float = 0.0) -> None:
        """Set the heights of the two layers and the arc height (relative to synapse length)."""
        self._z = (float(z_pre), float(z_post))
        self._arc = float(arc)
        self._set_uniform("u_z_pre", float(z_pre))
        self._set_uniform("u_z_post", float(z_post))
        self._set_uniform("u_arc", float(arc))
        self._changed(bounds=True)

    @property
    def colormap(self) -> NDArray[np.float32]:
        """The lookup table of colours by weight, ``(LUT_SIZE, 4)``."""
        return self._lut_data.copy()

    @colormap.setter
    def colormap(self, colormap: str | ArrayLike) -> None:
        self._lut_data = colormap_lut(colormap)
        self._set_lut(self._lut_data)
        self._changed()

    @property
    def clim(self) -> tuple[float, float]:
        """Weights at the low and high end of the colormap."""
        return self._clim

    @clim.setter
    def clim(self, clim: tuple[float, float]) -> None:
        lo, hi = float(clim[0]), float(clim[1])
        self._clim = (lo, hi)
        self._set_uniform("u_clim", (lo, hi))
        self._changed()

    @property
    def alpha(self) -> float:
        """Opacity of every line against the background (1: the colormap's colour, 0: background)."""
        return self._alpha

    @alpha.setter
    def alpha(self, alpha: float) -> None:
        self._alpha = float(alpha)
        self._set_uniform("u_alpha", self._alpha)
        self._changed()

    @property
    def background(self) -> tuple[float, float, float]:
        """RGB colour that lines fade into (the canvas background)."""
        return self._background

    @background.setter
    def background(self, rgb: tuple[float, float, float]) -> None:
        self._background = (float(rgb[0]), float(rgb[1]), float(rgb[2]))
        self._set_uniform("u_background", self._background)
        self._changed()

    @property
    def count(self) -> int:
        """Number of vertices drawn (two per line segment)."""
        return self._count

    # -- data -------------------------------------------------------------------------------------
    def set_data(self, vertices: NDArray[np.float32]) -> None:
        """Replace the synapses.

        Parameters
        ----------
        vertices : ndarray of float32, shape (V, 4)
            Per vertex ``(pre id, post id, t, weight)``, two consecutive
            vertices per line segment (``t`` 0 at the presynaptic end, 1 at
            the postsynaptic end; see
            :func:`gui.experiments.topomap.views.adapters.synapse_vertices`).
        """
        data = np.ascontiguousarray(vertices, dtype=np.float32)
        if data.ndim != 2 or data.shape[1] != 4 or data.shape[0] % 2:
            raise ValueError(f"vertices must have shape (2k, 4), got {data.shape}")
        self._count = int(data.shape[0])
        self._vertices = data
        self._set_vertices(data)
        self._changed()


class SynapseLinesVisual(SynapseStyle, Visual):
    """Synapses as straight lines or arcs between neurons of two ``n x n`` layers, drawn by OpenGL.

    Parameters
    ----------
    width : float
        Line width in pixels (software renderers may only draw 1).
    depth_test : bool
        Hide lines behind nearer ones (False draws over everything drawn before).
    **style
        As for :class:`SynapseStyle`.
    """

    def __init__(self, width: float = 1.0, depth_test: bool = True, **style: Any) -> None:
        Visual.__init__(self, vcode=_VERTEX_SHADER, fcode=_FRAGMENT_SHADER)
        self._vbo = gloo.VertexBuffer(np.zeros((0, 4), np.float32))
        self._lut = gloo.Texture2D(np.zeros((1, LUT_SIZE, 4), np.float32), interpolation="linear")
        self.shared_program["a_synapse"] = self._vbo
        self.shared_program["u_lut"] = self._lut
        self.shared_program["u_lut_size"] = float(LUT_SIZE)
        self._draw_mode = "lines"
        self.set_gl_state(None, blend=False, depth_test=depth_test, line_width=float(width))
        self._init_style(**style)

    def _set_uniform(self, name: str, value: object) -> None:
        self.shared_program[name] = value

    def _set_lut(self, lut: NDArray[np.float32]) -> None:
        self._lut.set_data(lut[np.newaxis])

    def _set_vertices(self, vertices: NDArray[np.float32]) -> None:
        if len(vertices):
            self._vbo.set_data(vertices)

    def _changed(self, bounds: bool = False) -> None:
        if bounds:
            self._bounds_changed()
        self.update()

    # -- Visual hooks -----------------------------------------------------------------------------
    def _prepare_transforms(self, view: Visual) -> None:
        view.view_program.vert["transform"] = view.get_transform()

    def _prepare_draw(self, view: Visual) -> bool:
        return self._count > 0

    def _compute_bounds(self, axis: int, view: Visual) -> tuple[float, float]:
        if axis == 2:
            return (min(self._z), max(self._z))
        return (-0.5, self._side - 0.5)


class RasterSynapseLayer(SynapseStyle):
    """A synapse table rasterised on the CPU beneath the scene of an ``ImageCanvas``.

    The same picture as :class:`SynapseLinesVisual` (one-pixel lines, nearer
    lines hiding farther ones, colour by weight faded into the background)
    drawn by :func:`gui.visuals.raster.draw_synapses` where OpenGL is a
    software renderer, on which that is several times faster. The canvas
    paints its underlays into the framebuffer before OpenGL draws the
    scene, so the lines lie behind every visual; layers of one canvas share
    a depth buffer.

    Parameters
    ----------
    anchor : vispy.scene.Node
        The scene node whose coordinates the layers' points are in.
    **style
        As for :class:`SynapseStyle`.
    """

    def __init__(self, anchor: Any, **style: Any) -> None:
        self.anchor = anchor
        self._visible = True
        #: Pixels written by the last paint.
        self.pixels_drawn = 0
        self._init_style(**style)

    @property
    def visible(self) -> bool:
        """Whether the layer is painted."""
        return self._visible

    @visible.setter
    def visible(self, visible: bool) -> None:
        self._visible = bool(visible)
        self._changed()

    def _changed(self, bounds: bool = False) -> None:
        canvas = self.anchor.canvas
        if canvas is not None:
            canvas.update()

    def paint(self, image: NDArray[np.uint32], depth: NDArray[np.float32]) -> None:
        """Rasterise the synapses into ``image`` (packed RGBA, row 0 at the bottom) and ``depth``.

        Both arrays cover the current framebuffer; points are placed with the
        anchor's transform to framebuffer pixels.
        """
        self.pixels_drawn = 0
        if not (self._visible and self._count):
            return
        canvas = self.anchor.canvas
        to_framebuffer = canvas.transforms.get_transform("canvas", "framebuffer")
        matrix = raster.transform_matrix(to_framebuffer * self.anchor.node_transform(canvas.scene))
        colours = raster.colour_table(self._lut_data, self._alpha, self._background)
        self.pixels_drawn = int(
            raster.draw_synapses(
                image,
                depth,
                self._vertices,
                self._side,
                *self._z,
                self._arc,
                self._periodic,
                matrix,
                colours,
                self._clim,
            )
        )


def plane_positions(side: int, z: float) -> NDArray[np.float32]:
    """Return the ``(n * n, 3)`` positions ``(col, row, z)`` of a layer's neurons by id."""
    ids = np.arange(side * side)
    return np.stack([ids % side, ids // side, np.full(ids.shape, z)], axis=1).astype(np.float32)


class LayerPlanesVisual(CompoundVisual):
    """Two ``n x n`` layers at heights ``z_source`` and ``z_target``: outlines and neuron markers.

    Neuron ``id`` of a layer sits at ``(id % n, id // n, z)``. Markers of the
    source layer come first in :attr:`positions`, so an index ``i < n * n``
    is source neuron ``i`` and ``n * n + j`` is target neuron ``j``.

    Parameters
    ----------
    side : int
        Grid side n.
    z_source, z_target : float
        Heights of the two planes.
    source_colour, target_colour : RGBA
        Marker colours of the two layers.
    """

    def __init__(
        self,
        side: int = 16,
        z_source: float = 0.0,
        z_target: float = 1.0,
        source_colour: RGBA = (0.55, 0.70, 1.0, 0.9),
        target_colour: RGBA = (1.0, 0.75, 0.45, 0.9),
    ) -> None:
        self._outline = LineVisual(method="gl", connect="segments", antialias=False)
        self._markers = DotsVisual()
        self._picked = MarkersVisual(scaling="fixed")
        self._colours = (source_colour, target_colour)
        self._positions = np.zeros((0, 3), np.float32)
        self._side = 0
        super().__init__([self._outline, self._markers, self._picked])
        self._outline.set_gl_state("translucent", depth_test=False)
        self._picked.set_gl_state("translucent", depth_test=False)
        self.set_layout(side, z_source, z_target)

    @property
    def side(self) -> int:
        """Grid side n."""
        return self._side

    @property
    def positions(self) -> NDArray[np.float32]:
        """``(2 N, 3)`` marker positions: the source layer's neurons, then the target layer's (a copy)."""
        return self._positions.copy()

    def set_layout(self, side: int, z_source: float, z_target: float) -> None:
        """Place two ``side x side`` layers at heights ``z_source`` and ``z_target``."""
        if side < 1:
            raise ValueError(f"side must be positive, got {side}")
        self._side = int(side)
        self._positions = np.concatenate([plane_positions(side, z_source), plane_positions(side, z_target)])
        lo, hi = -0.5, side - 0.5
        square = np.array([[lo, lo], [hi, lo], [hi, lo], [hi, hi], [hi, hi], [lo, hi], [lo, hi], [lo, lo]])
        outline = np.concatenate(
            [np.column_stack([square, np.full(8, z)]) for z in (z_source, z_target)]
        ).astype(np.float32)
        self._outline.set_data(pos=outline, color=(0.75, 0.75, 0.8, 0.8), connect="segments")
        n = side * side
        colours = np.empty((2 * n, 4), np.float32)
        colours[:n], colours[n:] = self._colours
        size = float(np.clip(96.0 / side, 2.0, 6.0))
        self._markers.set_data(self._positions, colours, size=size)
        self._picked.visible = False

    def set_picked(self, indices: ArrayLike, colours: ArrayLike) -> None:
        """Ring the markers at ``indices`` (into :attr:`positions`) in ``colours`` (one RGBA per index)."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        self._picked.visible = idx.size > 0
        if idx.size:
            size = float(np.clip(96.0 / self._side, 2.0, 6.0))
            self._picked.set_data(
                pos=self._positions[idx],
                size=2.0 * size + 8.0,
                edge_width=2.0,
                face_color=(0.0, 0.0, 0.0, 0.0),
                edge_color=np.asarray(colours, dtype=np.float32).reshape(-1, 4),
            )


#: Scene-graph node of :class:`SynapseLinesVisual`.
SynapseLines = create_visual_node(SynapseLinesVisual)
#: Scene-graph node of :class:`LayerPlanesVisual`.
LayerPlanes = create_visual_node(LayerPlanesVisual)
