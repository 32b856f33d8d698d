// See the Speaker: give LoadSpeech the same audio player + upload button as core LoadAudio.
//
// The frontend's upload widget (AUDIOUPLOAD) expects an "audioUI" player widget created before
// it, but the frontend adds that player only to core audio nodes. We add it to our node's
// definition, ahead of the upload button, before the node type is registered.
import { app } from "../../scripts/app.js";

const SPEECH_NODES = ["STS_LoadSpeech"];

app.registerExtension({
  name: "SeeTheSpeaker.SpeechUpload",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!SPEECH_NODES.includes(nodeData?.name)) return;
    const required = nodeData.input?.required;
    if (!required || required.audioUI) return;
    const upload = required.upload; // added by the core upload extension, must come last
    delete required.upload;
    required.audioUI = ["AUDIO_UI", {}];
    if (upload) required.upload = upload;
  },
});
