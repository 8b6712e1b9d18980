/*
 * The JCuda 12.6.0 entry points the emulator does not emulate: each returns
 * CUDA_ERROR_NOT_SUPPORTED and says so on stderr, once per function, and every call is counted
 * (unsupported_calls). JCuda's native library needs them all to load (it binds libcuda.so.1's
 * symbols eagerly); code that calls one gets a clear error instead of a wrong answer.
 *
 * The list is jcuda-12.6.0-symbols.txt minus what the other files implement; emulator-test checks
 * that the library exports every name of that file. A stub reads none of its arguments, so its
 * prototype is (void): this file includes no CUDA header, whose prototypes would conflict; for
 * a function returning int the ABI is the same.
 */
#include <stdatomic.h>
#include <stdio.h>

int emu_unsupported(const char *name, atomic_int *once);

#define CUDA_ERROR_NOT_SUPPORTED 801

#define UNSUPPORTED(X) \
    X(cuArray3DCreate_v2) \
    X(cuArray3DGetDescriptor_v2) \
    X(cuArrayCreate_v2) \
    X(cuArrayDestroy) \
    X(cuArrayGetDescriptor_v2) \
    X(cuArrayGetMemoryRequirements) \
    X(cuArrayGetPlane) \
    X(cuArrayGetSparseProperties) \
    X(cuCtxAttach) \
    X(cuCtxDetach) \
    X(cuCtxDisablePeerAccess) \
    X(cuCtxEnablePeerAccess) \
    X(cuCtxGetCacheConfig) \
    X(cuCtxGetLimit) \
    X(cuCtxGetSharedMemConfig) \
    X(cuCtxSetCacheConfig) \
    X(cuCtxSetLimit) \
    X(cuCtxSetSharedMemConfig) \
    X(cuDeviceCanAccessPeer) \
    X(cuDeviceGetP2PAttribute) \
    X(cuDeviceGetProperties) \
    X(cuDeviceGetTexture1DLinearMaxWidth) \
    X(cuFuncSetAttribute) \
    X(cuFuncSetBlockShape) \
    X(cuFuncSetCacheConfig) \
    X(cuFuncSetSharedMemConfig) \
    X(cuFuncSetSharedSize) \
    X(cuGLCtxCreate_v2) \
    X(cuGLGetDevices_v2) \
    X(cuGLInit) \
    X(cuGLMapBufferObjectAsync_v2) \
    X(cuGLMapBufferObject_v2) \
    X(cuGLRegisterBufferObject) \
    X(cuGLSetBufferObjectMapFlags) \
    X(cuGLUnmapBufferObject) \
    X(cuGLUnmapBufferObjectAsync) \
    X(cuGLUnregisterBufferObject) \
    X(cuGraphAddChildGraphNode) \
    X(cuGraphAddDependencies) \
    X(cuGraphAddEmptyNode) \
    X(cuGraphAddEventRecordNode) \
    X(cuGraphAddEventWaitNode) \
    X(cuGraphAddHostNode) \
    X(cuGraphAddKernelNode_v2) \
    X(cuGraphAddMemcpyNode) \
    X(cuGraphAddMemsetNode) \
    X(cuGraphChildGraphNodeGetGraph) \
    X(cuGraphClone) \
    X(cuGraphCreate) \
    X(cuGraphDestroy) \
    X(cuGraphDestroyNode) \
    X(cuGraphEventRecordNodeGetEvent) \
    X(cuGraphEventRecordNodeSetEvent) \
    X(cuGraphEventWaitNodeGetEvent) \
    X(cuGraphEventWaitNodeSetEvent) \
    X(cuGraphExecChildGraphNodeSetParams) \
    X(cuGraphExecDestroy) \
    X(cuGraphExecEventRecordNodeSetEvent) \
    X(cuGraphExecEventWaitNodeSetEvent) \
    X(cuGraphExecHostNodeSetParams) \
    X(cuGraphExecKernelNodeSetParams_v2) \
    X(cuGraphExecMemcpyNodeSetParams) \
    X(cuGraphExecMemsetNodeSetParams) \
    X(cuGraphGetEdges) \
    X(cuGraphGetNodes) \
    X(cuGraphGetRootNodes) \
    X(cuGraphHostNodeGetParams) \
    X(cuGraphHostNodeSetParams) \
    X(cuGraphInstantiateWithFlags) \
    X(cuGraphKernelNodeCopyAttributes) \
    X(cuGraphKernelNodeGetAttribute) \
    X(cuGraphKernelNodeGetParams_v2) \
    X(cuGraphKernelNodeSetAttribute) \
    X(cuGraphKernelNodeSetParams_v2) \
    X(cuGraphLaunch) \
    X(cuGraphMemcpyNodeGetParams) \
    X(cuGraphMemcpyNodeSetParams) \
    X(cuGraphMemsetNodeGetParams) \
    X(cuGraphNodeFindInClone) \
    X(cuGraphNodeGetDependencies) \
    X(cuGraphNodeGetDependentNodes) \
    X(cuGraphNodeGetType) \
    X(cuGraphRemoveDependencies) \
    X(cuGraphUpload) \
    X(cuGraphicsGLRegisterBuffer) \
    X(cuGraphicsGLRegisterImage) \
    X(cuGraphicsMapResources) \
    X(cuGraphicsResourceGetMappedMipmappedArray) \
    X(cuGraphicsResourceGetMappedPointer_v2) \
    X(cuGraphicsResourceSetMapFlags_v2) \
    X(cuGraphicsSubResourceGetMappedArray) \
    X(cuGraphicsUnmapResources) \
    X(cuGraphicsUnregisterResource) \
    X(cuIpcGetEventHandle) \
    X(cuIpcOpenEventHandle) \
    X(cuLaunch) \
    X(cuLaunchCooperativeKernel) \
    X(cuLaunchCooperativeKernelMultiDevice) \
    X(cuLaunchGrid) \
    X(cuLaunchGridAsync) \
    X(cuLinkAddData_v2) \
    X(cuLinkAddFile_v2) \
    X(cuLinkComplete) \
    X(cuLinkCreate_v2) \
    X(cuLinkDestroy) \
    X(cuMemAddressFree) \
    X(cuMemAddressReserve) \
    X(cuMemAdvise) \
    X(cuMemAllocAsync) \
    X(cuMemAllocFromPoolAsync) \
    X(cuMemAllocManaged) \
    X(cuMemAllocPitch_v2) \
    X(cuMemCreate) \
    X(cuMemExportToShareableHandle) \
    X(cuMemFreeAsync) \
    X(cuMemGetAccess) \
    X(cuMemGetAllocationGranularity) \
    X(cuMemGetAllocationPropertiesFromHandle) \
    X(cuMemImportFromShareableHandle) \
    X(cuMemMap) \
    X(cuMemPoolCreate) \
    X(cuMemPoolDestroy) \
    X(cuMemPoolTrimTo) \
    X(cuMemPrefetchAsync) \
    X(cuMemRangeGetAttribute) \
    X(cuMemRangeGetAttributes) \
    X(cuMemRelease) \
    X(cuMemRetainAllocationHandle) \
    X(cuMemSetAccess) \
    X(cuMemUnmap) \
    X(cuMemcpy2DAsync_v2) \
    X(cuMemcpy2DUnaligned_v2) \
    X(cuMemcpy2D_v2) \
    X(cuMemcpy3DAsync_v2) \
    X(cuMemcpy3DPeer) \
    X(cuMemcpy3DPeerAsync) \
    X(cuMemcpy3D_v2) \
    X(cuMemcpyAtoA_v2) \
    X(cuMemcpyAtoD_v2) \
    X(cuMemcpyAtoHAsync_v2) \
    X(cuMemcpyAtoH_v2) \
    X(cuMemcpyDtoA_v2) \
    X(cuMemcpyHtoAAsync_v2) \
    X(cuMemcpyHtoA_v2) \
    X(cuMemcpyPeer) \
    X(cuMemcpyPeerAsync) \
    X(cuMemsetD2D16Async) \
    X(cuMemsetD2D16_v2) \
    X(cuMemsetD2D32Async) \
    X(cuMemsetD2D32_v2) \
    X(cuMemsetD2D8Async) \
    X(cuMemsetD2D8_v2) \
    X(cuMipmappedArrayCreate) \
    X(cuMipmappedArrayDestroy) \
    X(cuMipmappedArrayGetLevel) \
    X(cuMipmappedArrayGetMemoryRequirements) \
    X(cuMipmappedArrayGetSparseProperties) \
    X(cuModuleGetGlobal_v2) \
    X(cuModuleGetLoadingMode) \
    X(cuModuleGetSurfRef) \
    X(cuModuleGetTexRef) \
    X(cuOccupancyAvailableDynamicSMemPerBlock) \
    X(cuOccupancyMaxActiveBlocksPerMultiprocessor) \
    X(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags) \
    X(cuOccupancyMaxPotentialBlockSize) \
    X(cuOccupancyMaxPotentialBlockSizeWithFlags) \
    X(cuParamSetSize) \
    X(cuParamSetTexRef) \
    X(cuParamSetf) \
    X(cuParamSeti) \
    X(cuParamSetv) \
    X(cuPointerSetAttribute) \
    X(cuProfilerInitialize) \
    X(cuProfilerStart) \
    X(cuProfilerStop) \
    X(cuStreamAttachMemAsync) \
    X(cuStreamBeginCapture_v2) \
    X(cuStreamCopyAttributes) \
    X(cuStreamEndCapture) \
    X(cuStreamGetAttribute) \
    X(cuStreamIsCapturing) \
    X(cuStreamSetAttribute) \
    X(cuStreamWaitValue32_v2) \
    X(cuStreamWaitValue64_v2) \
    X(cuStreamWriteValue32_v2) \
    X(cuStreamWriteValue64_v2) \
    X(cuSurfObjectCreate) \
    X(cuSurfObjectDestroy) \
    X(cuSurfObjectGetResourceDesc) \
    X(cuSurfRefGetArray) \
    X(cuSurfRefSetArray) \
    X(cuTexObjectCreate) \
    X(cuTexObjectDestroy) \
    X(cuTexObjectGetResourceDesc) \
    X(cuTexObjectGetResourceViewDesc) \
    X(cuTexObjectGetTextureDesc) \
    X(cuTexRefCreate) \
    X(cuTexRefDestroy) \
    X(cuTexRefGetAddressMode) \
    X(cuTexRefGetAddress_v2) \
    X(cuTexRefGetArray) \
    X(cuTexRefGetBorderColor) \
    X(cuTexRefGetFilterMode) \
    X(cuTexRefGetFlags) \
    X(cuTexRefGetFormat) \
    X(cuTexRefGetMaxAnisotropy) \
    X(cuTexRefGetMipmapFilterMode) \
    X(cuTexRefGetMipmapLevelBias) \
    X(cuTexRefGetMipmapLevelClamp) \
    X(cuTexRefGetMipmappedArray) \
    X(cuTexRefSetAddress2D_v3) \
    X(cuTexRefSetAddressMode) \
    X(cuTexRefSetAddress_v2) \
    X(cuTexRefSetArray) \
    X(cuTexRefSetBorderColor) \
    X(cuTexRefSetFilterMode) \
    X(cuTexRefSetFlags) \
    X(cuTexRefSetFormat) \
    X(cuTexRefSetMaxAnisotropy) \
    X(cuTexRefSetMipmapFilterMode) \
    X(cuTexRefSetMipmapLevelBias) \
    X(cuTexRefSetMipmapLevelClamp) \
    X(cuTexRefSetMipmappedArray) \
    X(cuThreadExchangeStreamCaptureMode)

#define STUB(name)                                                   \
    __attribute__((visibility("default"))) int name(void);           \
    int name(void) {                                                 \
        static atomic_int once;                                      \
        return emu_unsupported(#name, &once);                        \
    }

UNSUPPORTED(STUB)
