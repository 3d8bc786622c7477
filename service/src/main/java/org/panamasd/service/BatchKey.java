package org.panamasd.service;

/**
 * What requests must share to run as one UNet batch: the step count and scheduler (one timestep schedule), the
 * size (one latent shape), the guidance (one classifier-free guidance combination for the batch), and the LoRA
 * adapters with their scales (one set of weights); {@code alone} is a job's own marker when it may batch with none.
 */
record BatchKey(int steps, int height, int width, double guidance, String scheduler, java.util.SortedMap<String, Double> loras, Object alone) {}
