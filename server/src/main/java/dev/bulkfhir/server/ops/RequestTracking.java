package dev.bulkfhir.server.ops;

import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * The first handler of every request: takes its id from {@code X-Request-ID} (or makes one), echoes
 * it in the response and hands the request on with a {@link RequestFacts} attribute for the request
 * log. A request without a usable id is handed on with the generated one in its header, so that HAPI
 * (which reads the same header) logs and echoes the same id.
 */
final class RequestTracking extends Handler.Wrapper {

    static final String HEADER = "X-Request-ID";
    /** What we take from a client: short, and nothing that could forge a log line. */
    private static final Pattern USABLE = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final String ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    RequestTracking(Handler handler) {
        super(handler);
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) throws Exception {
        String given = request.getHeaders().get(HEADER);
        Request handed = request;
        String id = given;
        if (given == null || !USABLE.matcher(given).matches()) {
            id = newId();
            HttpFields headers = HttpFields.build(request.getHeaders()).put(HEADER, id).asImmutable();
            handed = new Request.Wrapper(request) {
                @Override
                public HttpFields getHeaders() {
                    return headers;
                }
            };
        }
        response.getHeaders().put(HEADER, id);
        request.setAttribute(RequestFacts.ATTRIBUTE, new RequestFacts(id));
        return super.handle(handed, response, callback);
    }

    /** 16 letters and digits: unique enough to find a request in the logs; no crypto needed. */
    private static String newId() {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        char[] id = new char[16];
        for (int i = 0; i < id.length; i++) {
            id[i] = ALPHABET.charAt(random.nextInt(ALPHABET.length()));
        }
        return new String(id);
    }
}
