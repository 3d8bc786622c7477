package org.panamasd.data;

import org.panamasd.Generator;
import org.panamasd.Tensor;

/**
 * Captions for Fashion-MNIST classes, a few phrasings each, so the text encoder learns words rather than one
 * sentence per class; and the reverse, the class a prompt names (for checking what a model generates).
 */
public final class FashionCaptions {
    /** Per class: the nouns a caption may use (singular, plural), in FashionMnist.CLASSES order. */
    private static final String[][] NOUNS = {
            {"t-shirt", "t-shirts", "top"}, {"pair of trousers", "trousers", "pants"}, {"pullover", "pullovers", "sweater"},
            {"dress", "dresses", "gown"}, {"coat", "coats", "jacket"}, {"sandal", "sandals", "summer sandal"},
            {"shirt", "shirts", "button-up shirt"}, {"sneaker", "sneakers", "running shoe"}, {"bag", "bags", "handbag"},
            {"ankle boot", "ankle boots", "boot"}};
    private static final String[] TEMPLATES = {"a photo of a %s", "%s", "a %s on a black background", "a black and white photo of a %s",
            "a picture of a %s", "a small photo of the %s"};

    private FashionCaptions() {}

    public static int classes() {
        return NOUNS.length;
    }

    /** Every caption of a class: each template with the first and third noun, and the bare plural. */
    public static java.util.List<String> all(int label) {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (String template : TEMPLATES) {
            out.add(String.format(template, NOUNS[label][0]));
            out.add(String.format(template, NOUNS[label][2]));
        }
        out.add(NOUNS[label][1]);
        return out;
    }

    /** A random caption of each label, drawn with {@code generator}. */
    public static String[] random(long[] labels, Generator generator) {
        long[] pick = Tensor.randint(0, 1 << 20, generator, labels.length).toLongArray();
        String[] out = new String[labels.length];
        for (int i = 0; i < labels.length; i++) {
            java.util.List<String> options = all((int) labels[i]);
            out[i] = options.get((int) (pick[i] % options.size()));
        }
        return out;
    }

    /** The canonical prompt of a class ("a photo of a sneaker"). */
    public static String prompt(int label) {
        return String.format(TEMPLATES[0], NOUNS[label][0]);
    }

    /** The class a prompt names (the longest noun found in it), or -1. */
    public static int classOf(String prompt) {
        String p = prompt.toLowerCase(java.util.Locale.ROOT);
        int best = -1, length = 0;
        for (int c = 0; c < NOUNS.length; c++)
            for (String noun : NOUNS[c])
                if (noun.length() > length && p.contains(noun)) {
                    best = c;
                    length = noun.length();
                }
        return best;
    }
}
