# Prepare the headers of the installed nginx so that our module is binary compatible with it.
# Debian's nginx-dev ships only headers; nginx's configure, run with the binary's own flags,
# writes the objs/ngx_auto_*.h files that decide binary compatibility.
set(NGINX_DEV_SRC "/usr/share/nginx/src" CACHE PATH "nginx source/header tree (Debian nginx-dev)")
set(SSO_NGINX_SRC "" CACHE PATH "an nginx tree already configured (set by ./configure --add-dynamic-module)")
if(SSO_NGINX_SRC)
  set(NGINX_BUILD_SRC "${SSO_NGINX_SRC}")
else()
  set(NGINX_BUILD_SRC "${CMAKE_BINARY_DIR}/nginx-src")
endif()

if(NOT SSO_NGINX_SRC AND NOT EXISTS "${NGINX_DEV_SRC}/conf_flags")
  message(FATAL_ERROR "nginx-dev not found at ${NGINX_DEV_SRC} (apt-get install nginx-dev)")
endif()

if(NOT SSO_NGINX_SRC AND NOT EXISTS "${NGINX_BUILD_SRC}/objs/ngx_auto_config.h")
  message(STATUS "Configuring nginx headers from ${NGINX_DEV_SRC}")
  file(REMOVE_RECURSE "${NGINX_BUILD_SRC}")
  file(COPY "${NGINX_DEV_SRC}/" DESTINATION "${NGINX_BUILD_SRC}")
  execute_process(
    COMMAND bash -c "source ./conf_flags && ./configure \"\${NGX_CONF_FLAGS[@]}\""
    WORKING_DIRECTORY "${NGINX_BUILD_SRC}"
    OUTPUT_FILE "${CMAKE_BINARY_DIR}/nginx-configure.log"
    ERROR_FILE "${CMAKE_BINARY_DIR}/nginx-configure.log"
    RESULT_VARIABLE NGINX_CONFIGURE_RESULT)
  if(NOT NGINX_CONFIGURE_RESULT EQUAL 0)
    message(FATAL_ERROR "nginx configure failed, see ${CMAKE_BINARY_DIR}/nginx-configure.log")
  endif()
endif()

add_custom_target(nginx_headers)
set(NGINX_INCLUDE_DIRS
  ${NGINX_BUILD_SRC}/src/core ${NGINX_BUILD_SRC}/src/event ${NGINX_BUILD_SRC}/src/event/modules
  ${NGINX_BUILD_SRC}/src/os/unix ${NGINX_BUILD_SRC}/src/http ${NGINX_BUILD_SRC}/src/http/modules
  ${NGINX_BUILD_SRC}/src/http/v2 ${NGINX_BUILD_SRC}/objs)
