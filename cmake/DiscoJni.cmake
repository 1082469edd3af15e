# DiscoJni.cmake — JNI headers, for native code that includes <jni.h> directly.
# The JavaCPP build (Maven) compiles disco_kernels' JNI glue itself; this module serves native tools that
# want the JNI headers (disco_find_jni() sets DISCO_JNI_INCLUDE_DIRS, empty when no JDK is found).
include_guard(GLOBAL)
function(disco_find_jni)
  find_package(JNI QUIET COMPONENTS JVM)
  if(JNI_FOUND)
    set(DISCO_JNI_INCLUDE_DIRS ${JNI_INCLUDE_DIRS} PARENT_SCOPE)
  else()
    set(DISCO_JNI_INCLUDE_DIRS "" PARENT_SCOPE)
  endif()
endfunction()
