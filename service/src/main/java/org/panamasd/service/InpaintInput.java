package org.panamasd.service;

/**
 * An inpainting request's pictures, decoded on the request's thread into plain arrays (no native memory until a
 * worker runs it): the image's RGB channels (3, H, W) and the mask's grey (H, W), both in [0, 1], and the
 * strength (1: from pure noise).
 */
record InpaintInput(int width, int height, float[] image, float[] mask, double strength) {}
