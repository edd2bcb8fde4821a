"""The desktop app: PyQt6 widgets, pyqtgraph plots and VisPy canvases over app/ and sim/.

Importing the package binds pyqtgraph and VisPy to PyQt6 and sets the
pyqtgraph options every view relies on (row-major images).
"""

from __future__ import annotations

import PyQt6.QtCore  # noqa: F401  (imported first so pyqtgraph and VisPy bind to PyQt6)
import pyqtgraph as pg
import vispy

vispy.use(app="pyqt6")
pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="w", foreground="k")
