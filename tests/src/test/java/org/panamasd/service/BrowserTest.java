package org.panamasd.service;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;
import org.panamasd.support.NativeTest;

/**
 * The web page in Debian's headless Chromium, driven by Selenium through Debian's chromedriver: type a prompt,
 * watch the progress bar move and the image appear, then cancel a long job. Leaves a screenshot of the page in
 * tests/target/service-page.png (the README's picture).
 */
class BrowserTest extends NativeTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium"), CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final Duration WAIT = Duration.ofMinutes(2);

    private static ServiceServer server;
    private static ChromeDriver browser;

    @BeforeAll
    static void start() {
        // scripts/test.sh installs both; a bare mvn run on a machine without them skips, naming what is missing
        assumeTrue(Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
                "needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver): apt-get install chromium chromium-driver");
        server = ServiceServer.start(ServiceSettings.of(ServiceApiTest.MODEL).withAddress("127.0.0.1", 0).withLimits(ServiceApiTest.LONG_JOBS));
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1100,820");
        // the driver is Debian's: naming it keeps Selenium Manager from looking for one on the network
        ChromeDriverService driver = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort().build();
        browser = new ChromeDriver(driver, options);
    }

    @AfterAll
    static void stop() {
        if (browser != null) browser.quit();
        if (server != null) server.close();
    }

    @Test
    void aPromptShowsProgressThenTheImageAndACancelStopsAJob() throws Exception {
        browser.get("http://127.0.0.1:" + server.port() + "/");
        WebDriverWait wait = new WebDriverWait(browser, WAIT, Duration.ofMillis(20));
        wait.until(b -> !field("steps").getDomProperty("value").isEmpty());  // the model's defaults arrived

        field("prompt").sendKeys("a photo of an ankle boot");
        set("steps", "40");  // enough steps that a WebDriver poll of some tens of milliseconds sees the bar move
        set("seed", "7");
        field("generate").click();
        Set<Integer> progress = new TreeSet<>();
        wait.until(b -> {
            progress.add((int) Double.parseDouble(field("progress").getDomProperty("value")));
            return imageWidth("result") > 0;
        });
        assertEquals(256, imageWidth("result"), "the 32 px image, enlarged 8x");
        assertTrue(progress.stream().anyMatch(v -> v > 0 && v < 40), "the bar moved through the steps; saw " + progress);
        assertTrue(field("preview").getDomProperty("src").startsWith("data:image/png;base64,"), "a latent preview");
        assertEquals("done", field("state").getText());
        wait.until(b -> !b.findElements(By.cssSelector("#gallery img")).isEmpty());
        Files.write(Path.of("target/service-page.png"), browser.getScreenshotAs(OutputType.BYTES));

        set("steps", Integer.toString(ServiceApiTest.LONG_STEPS));
        field("generate").click();
        wait.until(b -> field("progress-text").getText().startsWith("running") && Double.parseDouble(field("progress").getDomProperty("value")) > 0);
        field("cancel").click();
        wait.until(b -> field("state").getText().startsWith("cancelled"));
        assertFalse(field("progress-text").getText().contains(ServiceApiTest.LONG_STEPS + "/" + ServiceApiTest.LONG_STEPS), "stopped before the end");
        assertEquals(1, server.service().finishedCount(Job.State.CANCELLED));
    }

    private static WebElement field(String id) {
        return browser.findElement(By.id(id));
    }

    private static void set(String id, String value) {
        field(id).clear();
        field(id).sendKeys(value);
    }

    private static long imageWidth(String id) {
        Object width = ((JavascriptExecutor) browser).executeScript("const i = document.getElementById(arguments[0]); return i.complete && i.src ? i.naturalWidth : 0;", id);
        return ((Number) width).longValue();
    }
}
