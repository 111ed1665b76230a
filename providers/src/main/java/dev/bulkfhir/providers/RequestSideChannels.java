package dev.bulkfhir.providers;

import ca.uhn.fhir.rest.api.server.RequestDetails;
import dev.bulkfhir.providers.auth.ClientAccess;
import dev.bulkfhir.storage.binary.BinaryDocument;

import java.util.HashMap;
import java.util.Map;

/**
 * Everything the plugin's hooks and providers pass one another on a request besides its own content:
 * the entries they leave in HAPI's {@link RequestDetails#getUserData()} and the parameters they rewrite.
 *
 * <ul>
 *   <li>the admitted client ({@link #attachClient}): written by the bearer interceptor, read by whatever
 *       serves the request ({@code ClientAccess.from}), the audit of refusals and the host's request log;</li>
 *   <li>an export file ({@link #markExportFile}): the bearer interceptor let a Binary read past the
 *       scope check (the export's owner check guards it) and sees it again on the response;</li>
 *   <li>the Binary a read looked up ({@link #keepBinary}): the Binary interceptor hands it to the
 *       provider method that writes the wrapped form, which need not look it up again;</li>
 *   <li>parameters dropped ({@link #dropParameters}) or pinned ({@link #pinParameter}) before HAPI
 *       writes an answer: the kickoff's {@code _elements} (they are the export's, not its answer's), a
 *       refused {@code _format} or {@code _summary} (the refusal itself must be writable), and a
 *       Binary read's {@code _format}: pinned to the one FHIR format asked for (by {@code _format} or
 *       {@code Accept}), dropped when it names the content's own type.</li>
 * </ul>
 */
public final class RequestSideChannels {

    private static final String CLIENT = ClientAccess.class.getName();
    private static final String EXPORT_FILE = RequestSideChannels.class.getName() + ".exportFile";
    private static final String BINARY = RequestSideChannels.class.getName() + ".binary";

    private RequestSideChannels() {
    }

    public static void attachClient(RequestDetails request, ClientAccess access) {
        request.getUserData().put(CLIENT, access);
    }

    /** The client the bearer interceptor admitted; null if it admitted none (or is not installed). */
    public static ClientAccess admittedClient(RequestDetails request) {
        return request.getUserData().get(CLIENT) instanceof ClientAccess access ? access : null;
    }

    public static void markExportFile(RequestDetails request) {
        request.getUserData().put(EXPORT_FILE, Boolean.TRUE);
    }

    public static boolean isExportFile(RequestDetails request) {
        return request.getUserData().containsKey(EXPORT_FILE);
    }

    public static void keepBinary(RequestDetails request, BinaryDocument document) {
        request.getUserData().put(BINARY, document);
    }

    /** The Binary {@link #keepBinary} left; null if none. */
    public static BinaryDocument keptBinary(RequestDetails request) {
        return request.getUserData().get(BINARY) instanceof BinaryDocument document ? document : null;
    }

    /** Removes parameters for what follows; a map of them taken earlier stays as it was. */
    public static void dropParameters(RequestDetails request, String... names) {
        Map<String, String[]> parameters = new HashMap<>(request.getParameters());
        for (String name : names) {
            parameters.remove(name);
        }
        request.setParameters(parameters);
    }

    /** Sets a parameter to one value for what follows; a map of them taken earlier stays as it was. */
    public static void pinParameter(RequestDetails request, String name, String value) {
        Map<String, String[]> parameters = new HashMap<>(request.getParameters());
        parameters.put(name, new String[] {value});
        request.setParameters(parameters);
    }
}
