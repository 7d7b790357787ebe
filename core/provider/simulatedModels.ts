/** The model names the offline server answers to (a module of its own, so config need not load the server). */
export const OFFLINE_MODEL_ID = 'flask-offline-judge';
/** The evaluated-model name the server also lists (any model name is accepted and echoed). */
export const OFFLINE_ANSWER_MODEL_ID = 'flask-offline-model';
