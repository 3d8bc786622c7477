package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.panamasd.io.GenerationDefaults;
import org.panamasd.models.clip.CLIPTokenizer;

/** The default limits of {@code serve} take the shipped model's ordinary requests and refuse the costly ones. */
class CostLimitsTest {
    private final RequestParser parser = new RequestParser(GenerationDefaults.of(ServiceApiTest.MODEL, 30, 7.5, 512), ServiceSettings.of(ServiceApiTest.MODEL),
            CLIPTokenizer.load(ServiceApiTest.MODEL.resolve("tokenizer")), 77, java.util.Set.of());

    private GenerationParameters parse(String json) throws Exception {
        JsonNode body = ServiceClient.JSON.readTree(json);
        return parser.parse(body);
    }

    private String refusal(String json) {
        return assertThrows(BadRequest.class, () -> parse(json), json).getMessage();
    }

    @Test
    void ordinaryRequestsPass() throws Exception {
        assertEquals(32, parse("{\"prompt\": \"a bag\"}").width(), "the model's defaults");
        parse("{\"prompt\": \"a bag\", \"steps\": 4, \"guidance\": 1.5}");
        parse("{\"prompt\": \"a bag\", \"width\": 128, \"height\": 128, \"steps\": 4}");
        parse("{\"prompt\": \"a bag\", \"width\": 256, \"height\": 256, \"steps\": 1}");
    }

    @Test
    void requestsThatWouldHoldTheWorkerForMinutesAreRefused() {
        assertTrue(refusal("{\"prompt\": \"a bag\", \"width\": 1024, \"height\": 1024, \"steps\": 200}").startsWith("width"), "past --max-side");
        assertTrue(refusal("{\"prompt\": \"a bag\", \"width\": 512, \"height\": 512, \"steps\": 1}").startsWith("cost"), "512² costs 256 K pixel-steps");
        assertTrue(refusal("{\"prompt\": \"a bag\", \"width\": 32, \"height\": 32, \"steps\": 200}").startsWith("cost"));
        String guided = refusal("{\"prompt\": \"a bag\", \"width\": 128, \"height\": 128, \"steps\": 4, \"guidance\": 3}");
        assertTrue(guided.contains("× 2 (guidance)"), "guidance runs the UNet twice: " + guided);
    }
}
