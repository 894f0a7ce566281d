// Package raster draws the simulated scenes' camera frames: a canvas that
// rasterises filled polygons, discs and thick lines exactly as pygame 2.1's
// draw module does (the PushT reference renderer), and the OpenCV (gocv)
// bilinear resize that turns the 512x512 table into the robot's 96x96
// observation. Both simulated scenes (foundation/pusht, foundation/pushl)
// draw with it, so their frames share one pixel grid and one resampling.
package raster
