package disco.models.layers;

import org.bytedeco.pytorch.Module;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Registers child modules so that their Java objects live as long as their parent's.
 *
 * <p>A Java subclass of LibTorch's {@code Module} (and a plain {@code new Module()} container) is a C++ object that
 * calls back into its Java object for virtual methods: {@code eval()}/{@code train()} and {@code to(device)} walk
 * the children on the C++ side and call each child's Java object. LibTorch keeps the child alive through the
 * parent's {@code shared_ptr}, but nothing keeps the child's Java object alive: once the garbage collector takes a
 * child that no Java field holds (a container such as {@code in_layers}), the next {@code eval()} fails with a
 * NullPointerException inside the native call. Registering through here keeps each child reachable from its parent
 * Java object (a weak key, so a dropped model is still collected).
 */
public final class Modules {
    private static final Map<Module, List<Module>> CHILDREN = Collections.synchronizedMap(new WeakHashMap<>());

    private Modules() {}

    /** {@code parent.register_module(name, child)}, keeping {@code child}'s Java object alive with {@code parent}. */
    public static <M extends Module> M register(Module parent, String name, M child) {
        parent.register_module(name, child);
        CHILDREN.computeIfAbsent(parent, k -> new ArrayList<>()).add(child);
        return child;
    }
}
