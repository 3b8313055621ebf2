package polyplan.local.opensearch;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.config.Configurator;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.logging.LogConfigurator;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.geo.GeoModulePlugin;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.rankeval.RankEvalPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.ingest.common.IngestCommonPlugin;
import org.opensearch.join.ParentJoinPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.percolator.PercolatorPlugin;
import org.opensearch.plugins.ExtensiblePlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.script.mustache.MustachePlugin;
import org.opensearch.search.aggregations.matrix.MatrixAggregationPlugin;
import org.opensearch.search.pipeline.common.SearchPipelineCommonModulePlugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Runs one OpenSearch node in this JVM, with the distribution's modules that Maven Central
 * publishes handed to the node as classpath plugins (no modules/ or plugins/ folders, no
 * plugin descriptors). Settings come from HOME/config/opensearch.yml and logging from
 * HOME/config/log4j2.properties, both written by start.sh.
 *
 * <p>This is not the distribution's launcher (org.opensearch.bootstrap.OpenSearch): there is
 * no security manager, no JarHell check, no native set-up (mlockall, seccomp) and no bootstrap
 * checks, so nothing here refuses to run as root. It is a local test server, bound to
 * 127.0.0.1 by its settings.
 *
 * <p>Usage: {@code java ... polyplan.local.opensearch.LocalNode HOME}
 */
public final class LocalNode {

    /** The modules loaded, in the order the node gets them. */
    static final List<Class<? extends Plugin>> MODULES = List.of(
        Netty4Plugin.class,                      // transport-netty4: HTTP and transport
        CommonAnalysisPlugin.class,              // analysis-common
        PainlessPlugin.class,                    // lang-painless
        MustachePlugin.class,                    // lang-mustache
        MapperExtrasPlugin.class,                // mapper-extras
        ReindexPlugin.class,                     // reindex
        ParentJoinPlugin.class,                  // parent-join
        PercolatorPlugin.class,                  // percolator
        MatrixAggregationPlugin.class,           // aggs-matrix-stats
        RankEvalPlugin.class,                    // rank-eval
        IngestCommonPlugin.class,                // ingest-common
        GeoModulePlugin.class,                   // geo
        SearchPipelineCommonModulePlugin.class   // search-pipeline-common
    );

    /** Node's constructor that takes classpath plugins is protected: this only opens it. */
    private static final class ClasspathPluginsNode extends Node {
        ClasspathPluginsNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
            super(environment, plugins, true);
        }
    }

    /** Set when start() failed: then the shutdown hook does not wait long for threads to end. */
    private static volatile boolean startFailed;

    private LocalNode() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: LocalNode HOME   (HOME/config/opensearch.yml holds the settings)");
            System.exit(2);
        }
        Path home = Paths.get(args[0]).toAbsolutePath().normalize();
        Settings input = Settings.builder().put(Environment.PATH_HOME_SETTING.getKey(), home.toString()).build();
        Environment environment = InternalSettingsPreparer.prepareEnvironment(
            input, Collections.emptyMap(), home.resolve("config"), () -> "polyplan-local");

        LogConfigurator.registerErrorListener();
        LogConfigurator.setNodeName(Node.NODE_NAME_SETTING.get(environment.settings()));
        LogConfigurator.configure(environment);
        Logger logger = LogManager.getLogger(LocalNode.class);

        loadPainlessExtensions(logger);

        CountDownLatch closed = new CountDownLatch(1);
        Node node;
        try {
            node = new ClasspathPluginsNode(environment, MODULES);
        } catch (Throwable t) {
            logger.error("the node could not be built", t);
            shutdownLogging();
            System.exit(1);
            return;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                long wait = startFailed ? 3 : 30;
                if (!node.awaitClose(wait, TimeUnit.SECONDS)) {
                    logger.warn("the node's threads did not all end within {}s", wait);
                }
            } catch (Throwable t) {
                logger.warn("error while closing the node", t);
            } finally {
                shutdownLogging();
                closed.countDown();
            }
        }, "local-node-shutdown"));

        try {
            node.start();
        } catch (Throwable t) {
            logger.error("the node could not start", t);
            startFailed = true;
            System.exit(1); // the shutdown hook closes what was opened
        }

        // OpenSearch's own threads are daemon threads: keep the JVM up until it is told to stop.
        Thread keepAlive = new Thread(() -> {
            try {
                closed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "local-node-keepalive");
        keepAlive.setDaemon(false);
        keepAlive.start();
        logger.info("local node started with {} classpath modules", MODULES.size());
    }

    /**
     * Painless extensions (the allow-lists other modules add for their script contexts, e.g.
     * analysis-common's predicate_token_filter or ingest-common's Processors class) reach
     * Painless only through the plugin descriptors' "extended.plugins", which classpath plugins
     * do not have. PainlessPlugin keeps its allow-lists in a static map, so loading the
     * extensions once through a PainlessPlugin of our own, from the classpath's
     * META-INF/services, before the node is built, gives the node's engine the same lists as in
     * the distribution.
     */
    private static void loadPainlessExtensions(Logger logger) {
        ClassLoader classLoader = LocalNode.class.getClassLoader();
        new PainlessPlugin().loadExtensions(new ExtensiblePlugin.ExtensionLoader() {
            @Override
            public <T> List<T> loadExtensions(Class<T> extensionPointType) {
                List<T> extensions = new ArrayList<>();
                for (T extension : ServiceLoader.load(extensionPointType, classLoader)) {
                    logger.info("loaded painless extension [{}]", extension.getClass().getName());
                    extensions.add(extension);
                }
                return extensions;
            }
        });
    }

    private static void shutdownLogging() {
        Configurator.shutdown((LoggerContext) LogManager.getContext(false));
    }
}
