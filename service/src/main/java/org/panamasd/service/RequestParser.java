package org.panamasd.service;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.Iterator;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.models.clip.CLIPTokenizer;
import org.panamasd.schedulers.ClassifierFreeGuidance;
import org.panamasd.schedulers.Schedulers;

/**
 * Turns a submitted JSON object into {@link GenerationParameters}, or a {@link BadRequest} naming the first field
 * at fault. Fields left out take the model directory's defaults (panama-sd.json); no seed draws a random one.
 */
final class RequestParser {
    static final Set<String> FIELDS = Set.of("prompt", "negative_prompt", "steps", "guidance", "seed", "width", "height", "scheduler",
            "deadline_seconds", "loras", "image", "mask", "strength", "control_image", "control_scale");
    static final int MAX_DEADLINE_SECONDS = 3600;
    static final double MAX_GUIDANCE = 50;

    private final GenerationDefaults defaults;
    private final ServiceSettings settings;
    private final CLIPTokenizer tokenizer;
    private final int maxPromptTokens;

    private final java.util.Set<String> adapters;

    private final boolean hasControlNet;

    RequestParser(GenerationDefaults defaults, ServiceSettings settings, CLIPTokenizer tokenizer, int promptLength, java.util.Set<String> adapters) {
        this.adapters = adapters;
        this.hasControlNet = settings.controlnet() != null;
        this.defaults = defaults;
        this.settings = settings;
        this.tokenizer = tokenizer;
        this.maxPromptTokens = promptLength - 2;  // the start and end tokens take two places
    }

    GenerationParameters parse(JsonNode body) {
        if (body == null || !body.isObject()) throw new BadRequest("body", "must be a JSON object");
        for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!FIELDS.contains(name)) throw new BadRequest(name, "unknown field (known: " + String.join(", ", new java.util.TreeSet<>(FIELDS)) + ")");
        }
        String prompt = prompt(body, "prompt", true);
        String negative = prompt(body, "negative_prompt", false);
        int steps = integer(body, "steps", defaults.steps(), 1, settings.maxSteps());
        double guidance = number(body, "guidance", defaults.guidance(), 0, MAX_GUIDANCE);
        long seed = body.has("seed") ? longValue(body, "seed") : ThreadLocalRandom.current().nextLong(1L << 48);
        InpaintInput inpaint = inpaint(body);
        int width = inpaint != null ? inpaint.width() : side(body, "width", defaults.width());
        int height = inpaint != null ? inpaint.height() : side(body, "height", defaults.height());
        String scheduler = scheduler(body);
        int deadline = integer(body, "deadline_seconds", (int) settings.defaultDeadline().toSeconds(), 1, MAX_DEADLINE_SECONDS);
        java.util.SortedMap<String, Double> loras = loras(body);
        ControlInput control = control(body, width, height);
        if (control != null && inpaint != null) throw new BadRequest("control_image", "ControlNet with inpainting is not built yet");
        checkCost(steps, guidance, width, height);
        return new GenerationParameters(prompt, negative, steps, guidance, seed, width, height, scheduler, Duration.ofSeconds(deadline), loras, inpaint, control);
    }

    /**
     * Refuses a request whose work or output exceeds the settings' {@link ServiceSettings.CostLimits}: every field
     * may be within its own range while their product ties the worker up for minutes.
     */
    private void checkCost(int steps, double guidance, int width, int height) {
        ServiceSettings.CostLimits limits = settings.limits();
        int passes = ClassifierFreeGuidance.enabled(guidance) ? 2 : 1;
        long pixelSteps = (long) width * height * steps * passes;
        if (pixelSteps > limits.maxPixelSteps())
            throw new BadRequest("cost", width + " × " + height + " pixels × " + steps + " steps" + (passes == 2 ? " × 2 (guidance)" : "") + " = "
                    + pixelSteps + " pixel-steps, more than this service's limit of " + limits.maxPixelSteps() + ": ask for fewer steps or a smaller image");
        long upscale = Math.max(1, defaults.upscale());
        long outputPixels = width * upscale * height * upscale;
        if (outputPixels > limits.maxOutputPixels())
            throw new BadRequest("cost", width + " × " + height + " upscaled " + upscale + "× is " + outputPixels
                    + " output pixels, more than this service's limit of " + limits.maxOutputPixels());
    }

    private String prompt(JsonNode body, String field, boolean required) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) {
            if (required) throw new BadRequest(field, "is required");
            return null;
        }
        if (!n.isTextual()) throw new BadRequest(field, "must be a string");
        String text = n.asText();
        if (required && text.isBlank()) throw new BadRequest(field, "must not be empty");
        if (text.length() > 20 * maxPromptTokens)  // before tokenizing: a huge string must not cost a BPE pass
            throw new BadRequest(field, "is too long: " + text.length() + " characters");
        int tokens = tokenizer.tokens(text).size();
        if (tokens > maxPromptTokens)
            throw new BadRequest(field, "is too long: " + tokens + " tokens, the text encoder takes at most " + maxPromptTokens);
        return text;
    }

    private int side(JsonNode body, String field, int fallback) {
        int value = integer(body, field, fallback, 8, settings.maxSide());
        if (value % 8 != 0) throw new BadRequest(field, "must be a multiple of 8, got " + value);
        return value;
    }

    /**
     * Inpainting: "image" and "mask" as base64 PNGs of one size (a multiple of 8 within --max-side; it is the
     * output's size, so "width" and "height" are not given), "strength" in (0, 1] (default 1). Decoded here into
     * plain arrays; the PNG's declared size is checked before its pixels are decoded.
     */
    private InpaintInput inpaint(JsonNode body) {
        boolean image = body.hasNonNull("image"), mask = body.hasNonNull("mask");
        if (!image && !mask) {
            if (body.hasNonNull("strength")) throw new BadRequest("strength", "applies to inpainting only: give \"image\" and \"mask\" too");
            return null;
        }
        if (!image || !mask) throw new BadRequest(image ? "mask" : "image", "inpainting needs both \"image\" and \"mask\"");
        for (String field : new String[] {"width", "height"})
            if (body.hasNonNull(field)) throw new BadRequest(field, "is the image's with inpainting: leave it out");
        java.awt.image.BufferedImage picture = png(body, "image"), maskPicture = png(body, "mask");
        if (picture.getWidth() != maskPicture.getWidth() || picture.getHeight() != maskPicture.getHeight())
            throw new BadRequest("mask", "is " + maskPicture.getWidth() + "x" + maskPicture.getHeight() + " but the image is " + picture.getWidth() + "x"
                    + picture.getHeight());
        double strength = number(body, "strength", 1.0, 0, 1);
        if (strength <= 0) throw new BadRequest("strength", "must be in (0, 1], got " + strength);
        return new InpaintInput(picture.getWidth(), picture.getHeight(), org.panamasd.io.ImageFiles.rgb(picture), org.panamasd.io.ImageFiles.grey(maskPicture),
                strength);
    }

    /** A ControlNet's conditioning: "control_image" (a base64 PNG of the generated size), "control_scale" in 0..4 (default 1). */
    private ControlInput control(JsonNode body, int width, int height) {
        if (!body.hasNonNull("control_image")) {
            if (body.hasNonNull("control_scale")) throw new BadRequest("control_scale", "goes with \"control_image\"");
            return null;
        }
        if (!hasControlNet) throw new BadRequest("control_image", "this service has no ControlNet (serve --controlnet DIR)");
        java.awt.image.BufferedImage picture = png(body, "control_image");
        if (picture.getWidth() != width || picture.getHeight() != height)
            throw new BadRequest("control_image", "is " + picture.getWidth() + "x" + picture.getHeight() + " but the image is generated at " + width + "x" + height);
        return new ControlInput(width, height, org.panamasd.io.ImageFiles.rgb(picture), number(body, "control_scale", 1.0, 0, 4));
    }

    private java.awt.image.BufferedImage png(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (!n.isTextual()) throw new BadRequest(field, "must be a base64 PNG string");
        int maxSide = settings.maxSide();
        if (n.asText().length() > 8L * maxSide * maxSide) throw new BadRequest(field, "is too large: " + n.asText().length() + " base64 characters");
        byte[] bytes;
        try {
            bytes = java.util.Base64.getDecoder().decode(n.asText());
        } catch (IllegalArgumentException e) {
            throw new BadRequest(field, "is not base64: " + e.getMessage());
        }
        try (var in = javax.imageio.ImageIO.createImageInputStream(new java.io.ByteArrayInputStream(bytes))) {
            var readers = javax.imageio.ImageIO.getImageReaders(in);
            if (!readers.hasNext()) throw new BadRequest(field, "is not an image ImageIO can read");
            javax.imageio.ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                int w = reader.getWidth(0), h = reader.getHeight(0);  // from the header, before any pixel is decoded
                if (w < 8 || h < 8 || w > maxSide || h > maxSide || w % 8 != 0 || h % 8 != 0)
                    throw new BadRequest(field, "is " + w + "x" + h + "; the sides must be multiples of 8 in 8.." + maxSide);
                return reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (java.io.IOException e) {
            throw new BadRequest(field, "cannot be read as an image: " + e.getMessage());
        }
    }

    /** {"name": scale, ...}: adapters of the service's LoRA directory by name (never a path), a few, each scale bounded. */
    private java.util.SortedMap<String, Double> loras(JsonNode body) {
        java.util.SortedMap<String, Double> loras = new java.util.TreeMap<>();
        JsonNode n = body.get("loras");
        if (n == null || n.isNull()) return loras;
        if (!n.isObject()) throw new BadRequest("loras", "must be an object of adapter names to scales, e.g. {\"woodcut\": 0.8}");
        if (n.size() > ServiceAdapters.MAX_PER_REQUEST) throw new BadRequest("loras", "names " + n.size() + " adapters, at most " + ServiceAdapters.MAX_PER_REQUEST);
        for (Iterator<String> names = n.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!adapters.contains(name))
                throw new BadRequest("loras", "no adapter '" + (name.length() > 64 ? name.substring(0, 64) + "..." : name) + "' (this service has: "
                        + (adapters.isEmpty() ? "none" : String.join(", ", adapters)) + ")");
            JsonNode scale = n.get(name);
            if (!scale.isNumber() || !(Math.abs(scale.asDouble()) <= ServiceAdapters.MAX_SCALE))
                throw new BadRequest("loras", "the scale of '" + name + "' must be a number in -" + ServiceAdapters.MAX_SCALE + ".." + ServiceAdapters.MAX_SCALE + ", got " + scale);
            if (scale.asDouble() != 0) loras.put(name, scale.asDouble());  // scale 0 is the model as it is: batches with requests without it
        }
        return loras;
    }

    private String scheduler(JsonNode body) {
        JsonNode n = body.get("scheduler");
        if (n == null || n.isNull()) return null;
        if (!n.isTextual() || !Schedulers.NAMES.contains(n.asText()))
            throw new BadRequest("scheduler", "must be one of " + String.join(", ", Schedulers.NAMES) + ", got " + n);
        return n.asText();
    }

    private static int integer(JsonNode body, String field, int fallback, int min, int max) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) return fallback;
        if (!n.isIntegralNumber() || !n.canConvertToInt()) throw new BadRequest(field, "must be an integer, got " + n);
        int value = n.asInt();
        if (value < min || value > max) throw new BadRequest(field, "must be in " + min + ".." + max + ", got " + value);
        return value;
    }

    private static long longValue(JsonNode body, String field) {
        JsonNode n = body.get(field);
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw new BadRequest(field, "must be an integer, got " + n);
        return n.asLong();
    }

    private static double number(JsonNode body, String field, double fallback, double min, double max) {
        JsonNode n = body.get(field);
        if (n == null || n.isNull()) return fallback;
        if (!n.isNumber()) throw new BadRequest(field, "must be a number, got " + n);
        double value = n.asDouble();
        if (!(value >= min && value <= max)) throw new BadRequest(field, "must be in " + min + ".." + max + ", got " + value);
        return value;
    }
}
