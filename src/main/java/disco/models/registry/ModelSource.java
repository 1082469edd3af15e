package disco.models.registry;

/** One download location of a model file and where that location is documented. */
public record ModelSource(String url, String source) {}
