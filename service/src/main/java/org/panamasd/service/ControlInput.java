package org.panamasd.service;

/** A request's ControlNet conditioning, decoded on the request's thread: the image's RGB channels (3, H, W) in [0, 1], and the scale. */
record ControlInput(int width, int height, float[] image, double scale) {}
