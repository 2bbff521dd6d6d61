// LoopbackDynamoDBLocal runs DynamoDB Local (in memory) on 127.0.0.1 only.
// DynamoDB Local's own launcher (ServerRunner) binds every interface and has
// no host option, so the test harness starts the same request handler behind
// a Jetty connector bound to loopback. Telemetry stays off: this path never
// sets it up, and the harness also sets DDB_LOCAL_TELEMETRY=0.
//
// Usage: java -cp DynamoDBLocal.jar:DynamoDBLocal_lib/* LoopbackDynamoDBLocal.java PORT
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBRequestHandler;
import com.amazonaws.services.dynamodbv2.local.server.LocalDynamoDBServerHandler;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ContextHandler;
import org.eclipse.jetty.server.handler.ContextHandlerCollection;

public class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        // (unused, inMemory, dbPath, sharedDb, delayTransientStatuses), as ServerRunner passes them.
        LocalDynamoDBRequestHandler requests = new LocalDynamoDBRequestHandler(0, true, null, false, false);
        LocalDynamoDBServerHandler handler = new LocalDynamoDBServerHandler(requests, null);
        ContextHandler context = new ContextHandler();
        context.setHandler(handler);
        ContextHandlerCollection handlers = new ContextHandlerCollection();
        handlers.addHandler(context);
        Server server = new Server();
        ServerConnector connector = new ServerConnector(server);
        connector.setHost("127.0.0.1");
        connector.setPort(port);
        server.addConnector(connector);
        server.setHandler(handlers);
        server.start();
        System.out.println("DynamoDB Local listening on 127.0.0.1:" + port);
        server.join();
    }
}
