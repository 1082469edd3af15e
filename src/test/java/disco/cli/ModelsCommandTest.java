package disco.cli;

import disco.util.ExitCodes;
import disco.models.registry.Sha256;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** {@code disco models ...} end to end against a registry pointing at a 127.0.0.1 server. */
@Timeout(60)
class ModelsCommandTest {
    @TempDir
    Path tmp;
    HttpServer server;
    byte[] data;
    Path registry;
    Path dir;

    record Run(int code, String out, String err) {}

    @BeforeEach
    void setUp() throws IOException {
        data = new byte[200_000];
        new Random(7).nextBytes(data);
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            if (ex.getRequestURI().getPath().equals("/a.pt")) {
                ex.sendResponseHeaders(200, data.length);
                try (OutputStream o = ex.getResponseBody()) {
                    o.write(data);
                }
            } else {
                ex.sendResponseHeaders(404, -1);
            }
            ex.close();
        });
        server.start();
        String base = "http://127.0.0.1:" + server.getAddress().getPort();
        registry = tmp.resolve("registry.json");
        Files.writeString(registry, "{\"format\": 1, \"models\": ["
                + "{\"name\": \"A/1\", \"kind\": \"clip\", \"file\": \"a.pt\", \"sha256\": \"" + Sha256.of(data) + "\", \"size\": " + data.length
                + ", \"urls\": [{\"url\": \"" + base + "/gone.pt\", \"source\": \"t\"}, {\"url\": \"" + base + "/a.pt\", \"source\": \"t\"}], \"source\": \"t\"},"
                + "{\"name\": \"b\", \"kind\": \"vocab\", \"file\": \"b.gz\", \"sha256\": null, \"urls\": [\"" + base + "/gone.pt\"], \"source\": \"t\"}]}");
        dir = tmp.resolve("models");
    }

    @AfterEach
    void tearDown() {
        server.stop(0);
    }

    Run run(String... args) {
        CommandLine cl = Main.commandLine();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void fetchListVerify() throws IOException {
        Run l0 = run("models", "list", "--registry", registry.toString(), "--model-dir", dir.toString());
        assertEquals(0, l0.code(), l0.err());
        assertTrue(l0.out().lines().anyMatch(x -> x.matches("A/1\\s+clip\\s+absent\\s+-\\s+.*a\\.pt")), l0.out());

        Run f = run("models", "fetch", "--registry", registry.toString(), "--model-dir", dir.toString(), "A/1");
        assertEquals(0, f.code(), f.err());
        assertEquals("A/1\tverified\t" + dir.resolve("a.pt") + "\n", f.out());
        assertTrue(f.err().contains("HTTP 404; trying the next URL"), f.err());
        assertTrue(f.err().contains("A/1: 100%"), "line progress on stderr: " + f.err());
        assertArrayEquals(data, Files.readAllBytes(dir.resolve("a.pt")));

        // options before the subcommand work too
        Run l1 = run("models", "--registry", registry.toString(), "--model-dir", dir.toString(), "list");
        assertEquals(0, l1.code(), l1.err());
        assertTrue(l1.out().lines().anyMatch(x -> x.matches("A/1\\s+clip\\s+verified\\s+195\\.3K\\s+.*a\\.pt")), l1.out());
        assertTrue(l1.out().lines().anyMatch(x -> x.matches("b\\s+vocab\\s+absent\\s.*")), l1.out());

        Run v = run("models", "verify", "--registry", registry.toString(), "--model-dir", dir.toString());
        assertEquals(0, v.code(), v.err());
        assertEquals("A/1\tOK\t" + Sha256.of(data) + "\t" + dir.resolve("a.pt") + "\n", v.out());

        byte[] bad = data.clone();
        bad[10] ^= 0x40;
        Files.write(dir.resolve("a.pt"), bad);
        Run v2 = run("models", "verify", "--registry", registry.toString(), "--model-dir", dir.toString(), "A/1");
        assertEquals(ExitCodes.CHECK_FAILED, v2.code());
        assertTrue(v2.out().startsWith("A/1\tMISMATCH\t" + Sha256.of(bad)), v2.out());

        Run v3 = run("models", "verify", "--registry", registry.toString(), "--model-dir", dir.toString(), "b");
        assertEquals(ExitCodes.CHECK_FAILED, v3.code(), "a named model that is absent fails verify");
        assertTrue(v3.out().startsWith("b\tABSENT"), v3.out());

        Run f2 = run("models", "fetch", "--registry", registry.toString(), "--model-dir", dir.toString(), "A/1");
        assertEquals(0, f2.code(), f2.err());
        assertTrue(f2.err().contains("does not match its sha256"), f2.err());
        assertArrayEquals(data, Files.readAllBytes(dir.resolve("a.pt")));
    }

    @Test
    void listShowsEveryOpenClipModelOfTheBuiltInRegistry() {
        Run l = run("models", "list", "--model-dir", dir.toString());
        assertEquals(0, l.code(), l.err());
        for (String name : disco.settings.ClipModelName.OPEN_CLIP.keySet()) {
            assertTrue(l.out().lines().anyMatch(x -> x.startsWith(name + " ") && x.matches("\\S+\\s+openclip\\s+absent\\s.*")),
                    name + " in:\n" + l.out());
        }
    }

    @Test
    void anOpenClipFileIsFetchedAndVerifiedAgainstItsPublishedHashPrefix() throws IOException {
        String base = "http://127.0.0.1:" + server.getAddress().getPort();
        Path reg = tmp.resolve("oc-registry.json");
        Files.writeString(reg, "{\"format\": 1, \"openclip_configs\": {\"T\": {\"embed_dim\": 8, \"vision_cfg\": {\"layers\": 1,"
                + " \"width\": 64, \"patch_size\": 32}, \"text_cfg\": {\"context_length\": 77, \"vocab_size\": 10, \"width\": 8,"
                + " \"heads\": 1, \"layers\": 1}}}, \"models\": [{\"name\": \"T::x\", \"kind\": \"openclip\", \"file\": \"a.pt\","
                + " \"sha256_prefix\": \"" + Sha256.of(data).substring(0, 8) + "\", \"urls\": [\"" + base + "/a.pt\"], \"config\": \"T\","
                + " \"source\": \"t\"}]}");
        Run f = run("models", "fetch", "--registry", reg.toString(), "--model-dir", dir.toString(), "T::x");
        assertEquals(0, f.code(), f.err());
        assertEquals("T::x\tverified\t" + dir.resolve("a.pt") + "\n", f.out());
        byte[] bad = data.clone();
        bad[3] ^= 1;
        Files.write(dir.resolve("a.pt"), bad);
        Run v = run("models", "verify", "--registry", reg.toString(), "--model-dir", dir.toString(), "T::x");
        assertEquals(ExitCodes.CHECK_FAILED, v.code());
        assertTrue(v.out().contains("MISMATCH"), v.out());
        assertTrue(v.err().contains("expected sha256 " + Sha256.of(data).substring(0, 8) + "…"), v.err());
    }

    @Test
    void failuresHaveTheirExitCodes() {
        assertEquals(ExitCodes.BAD_INPUT, run("models", "fetch", "--registry", registry.toString(), "--model-dir", dir.toString(), "nope").code());
        assertEquals(ExitCodes.BAD_INPUT, run("models", "fetch", "--registry", registry.toString(), "--model-dir", dir.toString()).code());
        assertEquals(ExitCodes.BAD_INPUT, run("models", "list", "--registry", tmp.resolve("missing.json").toString()).code());
        assertEquals(ExitCodes.IO_ERROR, run("models", "fetch", "--registry", registry.toString(), "--model-dir", dir.toString(), "b").code());
        assertFalse(Files.exists(dir.resolve("b.gz")));
        assertFalse(Files.exists(dir.resolve(".b.gz.lock")), "a failed fetch leaves no lock file");
    }
}
