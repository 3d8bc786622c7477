package org.panamasd.pipelines;

/**
 * SDXL's micro-conditioning (Podell et al. 2023, sec. 2.2): the original image size, the crop's top-left corner
 * and the target size the model was trained with, each (height, width) / (top, left). A null size is the
 * generated image's (height, width), a null crop (0, 0), as the reference's defaults.
 */
public record SizeConditions(int[] originalSize, int[] cropsTopLeft, int[] targetSize) {
    public static final SizeConditions DEFAULT = new SizeConditions(null, null, null);

    public SizeConditions {
        originalSize = pair("original_size", originalSize);
        cropsTopLeft = pair("crops_coords_top_left", cropsTopLeft);
        targetSize = pair("target_size", targetSize);
    }

    private static int[] pair(String name, int[] value) {
        if (value == null) return null;
        if (value.length != 2) throw new IllegalArgumentException(name + " has two entries, got " + value.length);
        return value.clone();
    }

    /** add_time_ids: [original h, w, crop top, left, target h, w] for an image of the given size. */
    public float[] timeIds(int height, int width) {
        int[] original = originalSize != null ? originalSize : new int[] {height, width};
        int[] crop = cropsTopLeft != null ? cropsTopLeft : new int[] {0, 0};
        int[] target = targetSize != null ? targetSize : new int[] {height, width};
        return new float[] {original[0], original[1], crop[0], crop[1], target[0], target[1]};
    }
}
